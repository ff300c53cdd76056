"""Without mail, the same notices show at the top of every dashboard page until someone
who manages keys dismisses them; another organisation never sees them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
from fastapi import FastAPI

from relay.auth.activity import KeyActivity
from relay.auth.principal import Principal
from relay.db import Database, utcnow
from relay.limits.quotas import Quota, QuotaLedger
from relay.notices import sweeps
from tests.accounts.helpers import signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import post_form
from tests.notices.helpers import make_key, make_organisation

API_KEYS = "/settings/api-keys"


async def test_without_mail_the_dashboard_shows_the_notices_until_dismissed(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    assert not app.state.settings.smtp_url
    org = await make_organisation(db)
    other = await make_organisation(db)
    key_id, prefix = await make_key(db, org.tenant_id, expires_at=utcnow() + timedelta(days=6))
    metered, _ = await make_key(db, org.tenant_id, name="Metered", quota=(5, "month"))
    ledger = QuotaLedger(db.engine)
    for _ in range(5):
        await ledger.take([Quota(metered, 5, "month")])

    await sweeps.sweep(db.sessionmaker)  # 7 days; 80 % and 100 %

    await signed_in(client, org.owner)
    page = html.unescape((await client.get(API_KEYS)).text)
    assert f"API key Deploy bot ({prefix}…) expires in 7 days" in page
    assert "API key Metered" in page
    assert "has used all of its quota" in page
    assert "has used 80 % of its quota" in page
    assert f'href="/settings/api-keys/{key_id}"' in page
    notice_id = re.search(r'action="/settings/notices/([0-9a-f-]+)/dismiss"', page)
    assert notice_id
    async with asgi_client(app, "203.0.113.60") as stranger:
        await signed_in(stranger, other.owner)
        assert "expires in 7 days" not in (await stranger.get(API_KEYS)).text
        # Another organisation's notice: nothing is dismissed.
        dismiss = f"/settings/notices/{notice_id.group(1)}/dismiss"
        assert (await post_form(stranger, API_KEYS, dismiss, {})).status_code == 303
    assert page.count('action="/settings/notices/') == 3
    assert html.unescape((await client.get(API_KEYS)).text).count('action="/settings/notices/') == 3

    dismissed = await post_form(
        client, API_KEYS, f"/settings/notices/{notice_id.group(1)}/dismiss", {}
    )
    assert dismissed.status_code == 303
    after = html.unescape((await client.get(API_KEYS)).text)
    assert after.count('action="/settings/notices/') == 2


async def test_without_mail_a_new_network_shows_in_the_dashboard(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> None:
    org = await make_organisation(db)
    key_id, prefix = await make_key(db, org.tenant_id)
    activity = KeyActivity(db.sessionmaker, 1)
    activity.record_use(Principal(org.tenant_id, key_id, prefix, (), None), 200, "203.0.113.7", "x")
    await activity.flush()
    await signed_in(client, org.owner)
    page = html.unescape((await client.get(API_KEYS)).text)
    assert f"API key Deploy bot ({prefix}…) was used from a new network" in page
    assert "203.0.113.0/24" in page
