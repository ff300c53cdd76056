"""Key activity: last_used_at, usage counts, new addresses and expired uses are gathered
in memory and written once per flush, never per request."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.auth.activity import KeyActivity
from relay.auth.models import ApiKey, ApiKeyAddress, ApiKeyUsage
from relay.auth.principal import Principal
from relay.config import Settings
from relay.db import Database, utcnow
from tests.conftest import UNREACHABLE_DATABASE
from tests.factories import TenantFixture, make_api_key
from tests.statements import count_statements

KEYS = "/api/v1/auth/api-keys"


def principal_of(tenant: TenantFixture, key_id: uuid.UUID | None = None) -> Principal:
    return Principal(tenant.tenant_id, key_id or tenant.key_id, "rl_live_test", (), None)


async def test_many_uses_of_many_keys_cost_one_update_per_flush(
    client: httpx.AsyncClient, app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    usage: KeyActivity = app.state.activity
    other_id, other_key = await make_api_key(db, tenant_a)
    # Each key's first use from this network is an event of its own, once (insight.py).
    await client.get("/api/v1/datasets", headers=tenant_a.headers)
    await client.get("/api/v1/datasets", headers={"X-API-Key": other_key})
    await usage.flush()
    for _ in range(50):
        await client.get("/api/v1/datasets", headers=tenant_a.headers)
        await client.get("/api/v1/datasets", headers={"X-API-Key": other_key})

    with count_statements(db) as statements:
        touched = await usage.flush()

    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert touched == 2
    assert len(updates) == 1
    listed = {
        item["id"]: item for item in (await client.get(KEYS, headers=tenant_a.headers)).json()
    }
    assert listed[str(other_id)]["last_used_at"] is not None
    assert listed[str(tenant_a.key_id)]["last_used_at"] is not None


async def test_a_flush_for_many_keys_sends_as_many_statements_as_for_one(
    client: httpx.AsyncClient, app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    # A second with 20 keys used costs the statements of a second with one: a row kind
    # is one statement, whatever the number of keys (not one a key, as before).
    usage: KeyActivity = app.state.activity
    many = [await make_api_key(db, tenant_a) for _ in range(20)]

    async def statements_for(used: list[tuple[uuid.UUID, str]]) -> int:
        for _, key in used:
            response = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
            assert response.status_code == 200
        with count_statements(db) as statements:
            await usage.flush()
        return len(statements)

    await statements_for(many)  # the first uses' address and network events
    one = await statements_for(many[:1])
    assert await statements_for(many) == one
    async with db.sessionmaker() as session:
        requests = await session.scalars(
            select(ApiKeyUsage.requests).where(ApiKeyUsage.key_id.in_([k for k, _ in many]))
        )
        assert sorted(requests) == [2] * 19 + [3]  # every use counted


async def test_last_used_writes_follow_the_clock_not_the_request_count(
    client: httpx.AsyncClient, app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    interval = app.state.settings.usage_flush_interval
    started = time.monotonic()
    with count_statements(db) as statements:
        for _ in range(200):
            await client.get("/api/v1/datasets", headers=tenant_a.headers)
    elapsed = time.monotonic() - started
    # Last uses only: a flush's first sighting of a network adds an UPDATE of its own
    # (api_key_networks.noticed_on).
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE API_KEYS ")]
    # Only the background timer writes: at most one UPDATE per interval elapsed.
    assert len(updates) <= elapsed / interval + 1


async def test_background_flush_shows_a_use_within_five_seconds(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await client.get("/api/v1/datasets", headers=tenant_a.headers)
    deadline = time.monotonic() + 5
    last_used = None
    while last_used is None and time.monotonic() < deadline:
        # Polls the API the way a user would; the timer in the app does the write.
        listed = (await client.get(KEYS, headers=tenant_a.headers)).json()
        last_used = listed[0]["last_used_at"]
        await asyncio.sleep(0.1)
    assert last_used is not None


async def test_failed_flush_keeps_the_uses_for_the_next_one(
    settings: Settings, tenant_a: TenantFixture
) -> None:
    unreachable = settings.model_copy(update=UNREACHABLE_DATABASE)
    database = Database(unreachable)
    recorder = KeyActivity(database.sessionmaker, interval=1)
    recorder.record_use(principal_of(tenant_a), 200, "192.0.2.1", None)
    assert await recorder.flush() == 0
    assert recorder.pending_uses == 1
    await database.dispose()


def dropped_rows() -> float:
    labels = {"writer": "key-activity"}
    return REGISTRY.get_sample_value("relay_background_rows_dropped_total", labels) or 0.0


async def test_a_poison_row_of_each_kind_is_dropped_alone_and_the_rest_lands(
    db: Database, tenant_a: TenantFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """One row the database refuses (the review's: a 70-character address) failed
    the whole flush every second, and every key's activity with it. Each kind of
    row is poisoned here: a use of a key and tenant that are gone (usage count and
    address), an address too long for its column (new address), and an expired use
    from one (its audit event). The good key's use, count and new address land; the
    poison is dropped, counted and not tried again."""
    recorder = KeyActivity(db.sessionmaker, interval=1)
    good = principal_of(tenant_a)
    recorder.record_use(good, 200, "192.0.2.1", "curl/8")
    recorder.record_use(good, 404, "x" * 70, None)
    gone = Principal(uuid.uuid4(), uuid.uuid4(), "rl_live_test", (), None)
    recorder.record_use(gone, 200, "192.0.2.9", None)
    recorder.record_expired_use(good, "y" * 70, None)
    before = dropped_rows()

    # Two last uses passed to the database: the gone key's matches no row.
    assert await recorder.flush() == 2

    dropped = sorted(
        record.row for record in caplog.records if record.message == "background row dropped"
    )
    key = tenant_a.key_id
    assert dropped == sorted(
        [
            f"usage of key {gone.key_id} on {utcnow().date()} (2xx)",
            f"clients of key {gone.key_id}",
            f"network use of key {gone.key_id}",
            f"new address of key {gone.key_id}",
            f"clients of key {key}",  # too long an address
            f"network use of key {key}",
            f"new address of key {key}",
            f"api_key.expired_use_refused of key {key}",  # from too long an address
        ]
    )
    assert dropped_rows() - before == 8
    assert recorder.pending_uses == 0
    assert await recorder.flush() == 0
    async with db.sessionmaker() as session:
        key = await session.get(ApiKey, tenant_a.key_id)
        counts = dict(
            (
                await session.execute(
                    select(ApiKeyUsage.status_class, ApiKeyUsage.requests).where(
                        ApiKeyUsage.key_id == tenant_a.key_id
                    )
                )
            ).all()
        )
        addresses = list(
            await session.scalars(
                select(ApiKeyAddress.address).where(ApiKeyAddress.key_id == tenant_a.key_id)
            )
        )
        events = list(
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.tenant_id == tenant_a.tenant_id,
                    AuditEvent.action.in_([Action.API_KEY_NEW_ADDRESS, Action.API_KEY_EXPIRED_USE]),
                )
            )
        )
    assert key is not None
    assert key.last_used_at is not None
    assert counts == {"2xx": 1, "4xx": 1}
    assert addresses == ["192.0.2.1"]
    assert events == [Action.API_KEY_NEW_ADDRESS]


async def test_a_deleted_key_does_not_take_the_other_keys_activity_with_it(
    db: Database, tenant_a: TenantFixture
) -> None:
    recorder = KeyActivity(db.sessionmaker, interval=1)
    recorder.record_use(principal_of(tenant_a), 200, "192.0.2.1", None)
    # A key gone by the time of the flush (its tenant was deleted): no row to count on.
    recorder.record_use(principal_of(tenant_a, uuid.uuid4()), 200, "192.0.2.1", None)
    before = dropped_rows()

    await recorder.flush()

    # The gone key's count, address, clients and network.
    assert dropped_rows() - before == 4
    async with db.sessionmaker() as session:
        key = await session.get(ApiKey, tenant_a.key_id)
        counted = await session.scalar(
            select(ApiKeyUsage.requests).where(ApiKeyUsage.key_id == tenant_a.key_id)
        )
    assert key is not None
    assert key.last_used_at is not None
    assert counted == 1
    assert recorder.pending_uses == 0


async def wait_for_lock_waiters(db: Database, count: int, work: asyncio.Future[Any]) -> None:
    """Until `count` sessions of this database wait on a lock (30 s at most). Fails at
    once, with what `work` returned, if it ends before then."""
    # pg_locks, not pg_stat_activity: a pipelined executemany can show as "idle"
    # there while it waits on a row.
    query = text(
        "SELECT count(DISTINCT lock.pid) FROM pg_locks lock"
        " JOIN pg_stat_activity activity ON activity.pid = lock.pid"
        " WHERE NOT lock.granted AND activity.datname = current_database()"
    )
    async with asyncio.timeout(30), db.engine.connect() as connection:
        while True:
            waiting = (await connection.execute(query)).scalar_one()
            # pg_stat_activity is a snapshot kept for the whole transaction: a new one
            # for each look, or sessions that connected since are never seen.
            await connection.rollback()
            if waiting >= count:
                return
            if work.done():
                pytest.fail(f"the work ended without waiting on a lock: {work.result()!r}")
            await asyncio.sleep(0.02)


async def test_workers_flushing_the_same_keys_at_once_do_not_deadlock(
    db: Database, is_sqlite: bool, tenant_a: TenantFixture
) -> None:
    # Seen under bench/load.py: four workers flushed the same keys in different
    # orders, and PostgreSQL aborted a flush as a deadlock every few seconds.
    if is_sqlite:
        pytest.skip("SQLite has one writer at a time; row locks are PostgreSQL's")
    first, second = sorted([tenant_a.key_id, (await make_api_key(db, tenant_a))[0]])
    one_worker = KeyActivity(db.sessionmaker, interval=60)
    other_worker = KeyActivity(db.sessionmaker, interval=60)
    # The two workers saw the keys in opposite orders.
    for worker, order in ((one_worker, (second, first)), (other_worker, (first, second))):
        for key_id in order:
            worker.record_use(principal_of(tenant_a, key_id), 200, "192.0.2.1", None)

    async with db.engine.connect() as holder:
        # Hold both rows so that both flushes start and queue on their first row...
        transaction = await holder.begin()
        await holder.execute(
            select(ApiKey.id).where(ApiKey.id.in_([first, second])).with_for_update()
        )
        flushes = asyncio.gather(one_worker.flush(), other_worker.flush())
        await wait_for_lock_waiters(db, 2, flushes)
        # ...then let them race for the rows.
        await transaction.commit()
        touched = await flushes

    assert touched == [2, 2]
    async with db.sessionmaker() as session:
        used = (
            await session.scalars(select(ApiKey.last_used_at).where(ApiKey.id.in_([first, second])))
        ).all()
    assert None not in used
