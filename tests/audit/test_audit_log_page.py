"""Settings > Audit log in the dashboard: a valid `since` date hides the events from
before it and keeps the rest."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from relay.audit.models import AuditEvent
from relay.db import Database, utcnow
from tests.dashboard.helpers import post_form, sign_up

AUDIT = "/settings/audit-log"
KEYS = "/settings/api-keys"


async def shown_keys(client: httpx.AsyncClient, **query: str) -> set[str]:
    """Which of the two keys' creation events the audit log page lists (in its table:
    the form's key filter offers both)."""
    page = await client.get(AUDIT, params=query)
    assert page.status_code == 200
    listed = page.text.partition("<tbody")[2]
    return {name for name in ("Old key", "New key") if f"{name} (rl_live_" in listed}


async def test_since_hides_events_from_before_the_date_and_keeps_later_ones(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    for name in ("Old key", "New key"):
        created = await post_form(client, KEYS, KEYS, {"name": name, "expiration": "none"})
        assert created.status_code == 201
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.target_name.startswith("Old key ("))
            .values(at=utcnow() - timedelta(days=3))
        )
    today = utcnow().date()

    assert await shown_keys(client) == {"Old key", "New key"}
    since = (today - timedelta(days=1)).isoformat()
    assert await shown_keys(client, since=since) == {"New key"}
    assert (
        f'name="since" type="date" value="{since}"'
        in (await client.get(AUDIT, params={"since": since})).text
    )
    before_both = (today - timedelta(days=4)).isoformat()
    assert await shown_keys(client, since=before_both) == {"Old key", "New key"}
    future = await client.get(AUDIT, params={"since": (today + timedelta(days=1)).isoformat()})
    assert "No events match these filters" in future.text
