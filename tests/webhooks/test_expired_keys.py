"""A key that reaches its expiry is announced once, by the notice sweep within a minute:
`api_key.expired` (its audit event, its webhook, its notice by mail and in the
dashboard). Not announced again: a rolled key whose grace ends (its rotation said when),
a key the key policy expired unused (that sweep announced it, as `api_key.expired` too),
a key that expired more than a day ago (Relay was down, or the key expired before
expiries were announced)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from relay.audit.models import AuditEvent
from relay.db import Database, utcnow
from relay.key_policy.unused_keys import expire_unused_keys
from relay.notices import sweeps
from relay.notices.mails import headline
from relay.notices.models import Notice
from relay.notices.service import open_notices
from relay.schemas import iso_utc
from relay_sdk.webhooks import verify
from tests.auth.test_insight import rotate
from tests.factories import TenantFixture, make_api_key, set_key_expiry
from tests.key_policy.test_key_policy import make_stale, put_policy
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Receiver


async def expired_events(db: Database) -> list[tuple[str | None, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEvent.target_id, AuditEvent.action)
            .where(AuditEvent.action.in_(["api_key.expired", "api_key.expired_unused"]))
            .order_by(AuditEvent.target_id)
        )
    return [(target, action) for target, action in rows.all()]


async def test_a_key_that_reaches_its_expiry_is_announced_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.expired"])
    now = utcnow()
    expired, _ = await make_api_key(db, tenant_a, name="Expired")
    long_ago, _ = await make_api_key(db, tenant_a, name="Expired two days ago")
    rolled, _ = await make_api_key(db, tenant_a, name="Rolled")
    assert (await rotate(client, tenant_a, rolled, 60)).status_code == 201
    unused, _ = await make_api_key(db, tenant_a, name="Unused")
    await put_policy(client, tenant_a, expire_unused_after_days=30)
    await make_stale(db, unused, used_days_ago=None, made_days_ago=40)
    assert await expire_unused_keys(db.sessionmaker, app.state.verifier.cache) == 1
    # The day before, its "expires in 1 day" notice; the dashboard shows the newest.
    await set_key_expiry(db, expired, now + timedelta(hours=12))
    await sweeps.sweep(db.sessionmaker)
    just_now = now - timedelta(minutes=1)
    await set_key_expiry(db, expired, just_now)
    await set_key_expiry(db, long_ago, now - timedelta(days=2))
    await set_key_expiry(db, rolled, just_now)

    # Every worker sweeps every minute: announced once, whoever sweeps and however often.
    await sweeps.sweep(db.sessionmaker)
    await sweeps.sweep(db.sessionmaker)
    assert await expired_events(db) == sorted(
        [(str(expired), "api_key.expired"), (str(unused), "api_key.expired_unused")]
    )
    arrived = await receiver.arrived(2)  # the unused key's, then the expired key's
    events = [verify(a.body, a.headers["Relay-Signature"], endpoint["secret"]) for a in arrived]
    by_key = {event["data"]["target"]["id"]: event for event in events}
    assert set(by_key) == {str(expired), str(unused)}
    assert {event["type"] for event in events} == {"api_key.expired"}
    assert by_key[str(expired)]["data"]["details"] == {"expires_at": iso_utc(just_now)}
    assert by_key[str(expired)]["data"]["actor"] == "system"

    async with db.sessionmaker() as session:
        notice = await session.scalar(select(Notice).where(Notice.mark == sweeps.EXPIRED))
    assert notice is not None
    assert notice.key_id == expired
    assert headline(notice, "Tenant A").startswith("API key Expired (")
    assert headline(notice, "Tenant A").endswith(") has expired")
    async with db.sessionmaker() as session:  # what the dashboard's banner shows
        shown = await open_notices(session, tenant_id=tenant_a.tenant_id)
    assert [item.headline for item in shown if item.key_id == expired] == [
        headline(notice, "Tenant A")
    ]


async def test_keys_whose_expiry_cannot_be_announced_never_crowd_out_those_due(
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep looks at PER_TENANT keys of a kind: rolled keys just expired (never
    announced) took every place ahead of a key expiring in 3 days, whose notices were
    then never raised."""
    monkeypatch.setattr(sweeps, "PER_TENANT", 2)
    for number in range(3):
        rolled, _ = await make_api_key(db, tenant_a, name=f"Rolled {number}")
        assert (await rotate(client, tenant_a, rolled, 60)).status_code == 201
        await set_key_expiry(db, rolled, utcnow() - timedelta(minutes=number + 1))
    soon, _ = await make_api_key(db, tenant_a, name="Soon")
    await set_key_expiry(db, soon, utcnow() + timedelta(days=3))
    await sweeps.sweep(db.sessionmaker)
    async with db.sessionmaker() as session:
        raised = (await session.execute(select(Notice.key_id, Notice.mark))).all()
    assert (soon, "7d") in raised
