"""What a key's use tells (relay.auth.insight, relay.auth.grace): who used it in the last
24 hours, the scopes its requests needed and the narrower set it could have, the first
use from a new network, and a rotation's grace that ends when the old key goes quiet."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from relay.audit.models import AuditEvent
from relay.auth import insight
from relay.auth.activity import KeyActivity
from relay.auth.grace import QUIET_AFTER, end_quiet_graces
from relay.auth.models import ApiKey, ApiKeyClient, ApiKeyNetwork
from relay.auth.principal import Principal
from relay.db import Database, utcnow
from tests.auth.workers import first_refusal
from tests.conftest import asgi_client
from tests.factories import TenantFixture, key_headers, make_api_key

KEYS = "/api/v1/auth/api-keys"


async def used_from(
    app: FastAPI, address: str, key: str, agent: str, times: int = 1, path: str = "/api/v1/datasets"
) -> None:
    async with asgi_client(app, address) as client:
        for _ in range(times):
            answer = await client.get(path, headers=key_headers(key) | {"User-Agent": agent})
            assert answer.status_code == 200


async def flushed(app: FastAPI) -> None:
    activity: KeyActivity = app.state.activity
    await activity.flush()


async def test_a_keys_read_says_who_used_it_in_the_last_day(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:  # fmt: skip
    key_id, key = await make_api_key(db, tenant_a, name="Billing")
    await used_from(app, "198.51.100.7", key, "billing-worker/2.1", times=3)
    await used_from(app, "203.0.113.9", key, "curl/8.5")
    await used_from(app, "198.51.100.7", key, "curl/8.5")
    await flushed(app)

    read = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    seen = [(c["address"], c["user_agent"], c["requests"]) for c in read["clients"]]
    assert seen == [
        ("198.51.100.7", "billing-worker/2.1", 3),
        ("198.51.100.7", "curl/8.5", 1),
        ("203.0.113.9", "curl/8.5", 1),
    ]
    assert all(c["last_seen"] for c in read["clients"])
    listed = (await client.get(KEYS, headers=tenant_a.headers)).json()
    assert all("clients" not in item for item in listed)  # the list stays the guide's
    other = await client.get(f"{KEYS}/{key_id}", headers=tenant_b.headers)
    assert other.status_code == 404


async def test_clients_are_the_top_twenty_of_the_last_day_and_old_rows_are_pruned(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a)
    for n in range(25):
        await used_from(app, "198.51.100.7", key, f"agent/{n}", times=1 + (n == 3))
    await flushed(app)
    read = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    assert len(read["clients"]) == insight.CLIENTS_SHOWN
    assert read["clients"][0]["user_agent"] == "agent/3"  # most requests first

    async with db.sessionmaker.begin() as session:  # a day and a half ago
        await session.execute(
            update(ApiKeyClient).values(
                hour=utcnow() - timedelta(hours=36), last_seen=utcnow() - timedelta(hours=36)
            )
        )
    read = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    assert read["clients"] == []
    async with db.sessionmaker.begin() as session:
        await insight.write(session, [insight.Prune(utcnow() - timedelta(hours=30))])
        assert await session.scalar(select(ApiKeyClient.key_id).limit(1)) is None


async def test_the_scopes_a_key_used_and_the_narrower_set_it_could_hold(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(
        db, tenant_a, scopes=["datasets:write", "api_keys:read", "audit:read"]
    )
    unused = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    assert unused["scopes_used"] == []
    assert "suggested_scopes" not in unused  # no use is no evidence

    await used_from(app, "198.51.100.7", key, "reporter/1")  # datasets:read
    await used_from(app, "198.51.100.7", key, "reporter/1", path="/api/v1/audit-events")
    await flushed(app)
    read = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    assert [use["scope"] for use in read["scopes_used"]] == ["audit:read", "datasets:read"]
    assert read["suggested_scopes"] == ["audit:read", "datasets:read"]

    # A full-access key that needed full access keeps it: no suggestion.
    made = await client.post("/api/v1/limit-pools", json={"name": "p"}, headers=tenant_a.headers)
    assert made.status_code == 201
    await flushed(app)
    full = (await client.get(f"{KEYS}/{tenant_a.key_id}", headers=tenant_a.headers)).json()
    assert "full access" in [use["scope"] for use in full["scopes_used"]]
    assert "suggested_scopes" not in full


def test_the_narrower_set_is_the_fewest_scopes_granting_what_was_needed() -> None:
    narrower = insight.narrower_scopes
    assert narrower([], ["datasets:read"]) == ["datasets:read"]
    assert narrower([], ["datasets:read", "datasets:write"]) == ["datasets:write"]
    assert narrower(["datasets:write"], ["datasets:read"]) == ["datasets:read"]
    assert narrower(["datasets:read"], ["datasets:read"]) is None  # needs all it holds
    assert narrower(["datasets:write"], ["datasets:write"]) is None
    assert narrower([], ["full access", "datasets:read"]) is None
    assert narrower(["audit:read"], []) is None
    assert narrower(["audit:read"], ["datasets:read"]) is None  # never wider than held
    # A key that makes keys needs the scopes of those it makes: not narrowed.
    assert narrower(["api_keys:write", "datasets:read"], ["api_keys:write"]) is None


async def new_network_events(db: Database, tenant: TenantFixture) -> list[dict[str, str]]:
    async with db.sessionmaker() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.tenant_id == tenant.tenant_id, AuditEvent.action == "api_key.new_network"
            )
            .order_by(AuditEvent.at)
        )
        return [event.details for event in found]


async def test_a_key_used_from_a_new_network_is_announced_once(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a)
    await used_from(app, "198.51.100.7", key, "deploy/1")
    await used_from(app, "198.51.100.200", key, "deploy/1")  # the same /24
    await flushed(app)
    await used_from(app, "198.51.100.9", key, "deploy/1")
    await used_from(app, "2001:db8:1:2::5", key, "laptop/9")
    await flushed(app)
    assert await new_network_events(db, tenant_a) == [
        {"network": "198.51.100.0/24", "user_agent": "deploy/1"},
        {"network": "2001:db8:1::/48", "user_agent": "laptop/9"},
    ]

    # Quiet for 31 days, then used from it again: announced again, once that day, even
    # by a second worker that saw the same use.
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKeyNetwork)
            .where(ApiKeyNetwork.network == "198.51.100.0/24")
            .values(last_seen=utcnow() - timedelta(days=31), noticed_on=None)
        )
    principal = Principal(tenant_a.tenant_id, key_id, key[:12], (), None)
    for worker in (KeyActivity(db.sessionmaker, 1), KeyActivity(db.sessionmaker, 1)):
        async with db.sessionmaker.begin() as session:  # as if quiet, to each of them
            await session.execute(
                update(ApiKeyNetwork)
                .where(ApiKeyNetwork.network == "198.51.100.0/24")
                .values(last_seen=utcnow() - timedelta(days=31))
            )
        worker.record_use(principal, 200, "198.51.100.44", "deploy/2")
        await worker.flush()
    events = await new_network_events(db, tenant_a)
    assert events[2:] == [{"network": "198.51.100.0/24", "user_agent": "deploy/2"}]


async def rotate(
    client: httpx.AsyncClient, tenant: TenantFixture, key_id: uuid.UUID, grace: object
) -> httpx.Response:
    return await client.post(
        f"{KEYS}/{key_id}/rotate", json={"grace_period_seconds": grace}, headers=tenant.headers
    )


async def test_a_grace_until_quiet_ends_once_the_old_key_goes_unused(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    quiet_id, quiet_key = await make_api_key(db, tenant_a, name="Quiet")
    busy_id, busy_key = await make_api_key(db, tenant_a, name="Busy")
    for key_id in (quiet_id, busy_id):
        rotated = await rotate(client, tenant_a, key_id, "until_quiet")
        assert rotated.status_code == 201
    async with db.sessionmaker() as session:
        old = await session.get(ApiKey, quiet_id)
    assert old is not None
    assert old.grace_until_quiet
    assert old.expires_at is not None
    assert old.expires_at - utcnow() > timedelta(days=6, hours=23)  # bounded by 7 days

    await used_from(app, "198.51.100.7", busy_key, "still-here/1")
    await flushed(app)
    cache = app.state.verifier.cache
    assert await end_quiet_graces(db.sessionmaker, cache) == 0  # just rotated: not yet
    # Rolled 16 minutes ago; the busy key used 5 minutes ago, the quiet one never since.
    ago = utcnow() - QUIET_AFTER - timedelta(minutes=1)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id.in_([quiet_id, busy_id])).values(rotated_at=ago)
        )
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == busy_id)
            .values(last_used_at=utcnow() - timedelta(minutes=5))
        )
    assert await end_quiet_graces(db.sessionmaker, cache) == 1

    refused = await client.get("/api/v1/datasets", headers=key_headers(quiet_key))
    assert refused.status_code == 401
    assert (await client.get("/api/v1/datasets", headers=key_headers(busy_key))).status_code == 200
    async with db.sessionmaker() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "api_key.grace_ended")
        )
    assert event is not None
    assert event.target_id == str(quiet_id)
    assert event.details == {"reason": "quiet", "last_used_at": None}


async def test_a_grace_is_a_number_of_seconds_or_until_quiet(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a)
    for wrong in ("until_later", -1, 7 * 86_400 + 1, None):
        refused = await rotate(client, tenant_a, key_id, wrong)
        assert refused.status_code == 422, wrong


async def test_a_long_or_odd_user_agent_is_kept_as_the_column_keeps_it(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    """A client cannot hide from "who uses this key" behind a user agent the column
    cannot keep (the review's: 201 characters had the row dropped)."""
    key_id, key = await make_api_key(db, tenant_a)
    await used_from(app, "198.51.100.7", key, "x" * 500)
    await used_from(app, "198.51.100.8", key, "ok/1")
    await flushed(app)
    read = (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()
    agents = sorted(c["user_agent"] for c in read["clients"])
    assert agents == ["ok/1", "x" * 200]


async def test_a_starting_app_ends_quiet_graces_at_once(
    client: httpx.AsyncClient, settings: Any, db: Database, tenant_a: TenantFixture
) -> None:
    """The app runs the quiet-grace sweep from its start (then every minute): an old
    key gone quiet while no server ran is refused by the next server to start, with
    nobody calling the sweep."""
    from relay.app import create_app

    quiet_id, quiet_key = await make_api_key(db, tenant_a, name="Quiet")
    assert (await rotate(client, tenant_a, quiet_id, "until_quiet")).status_code == 201
    ago = utcnow() - QUIET_AFTER - timedelta(minutes=1)
    async with db.sessionmaker.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == quiet_id).values(rotated_at=ago))
    started = create_app(settings)
    async with started.router.lifespan_context(started), asgi_client(started) as http:
        refused = await first_refusal(http, quiet_key, seconds=10)
    assert refused.status_code == 401
    async with db.sessionmaker() as session:
        ended = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "api_key.grace_ended", AuditEvent.target_id == str(quiet_id)
            )
        )
    assert ended is not None
