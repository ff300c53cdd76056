"""One row a sweep cannot write never stops the others (relay.background.sweep_tenants):
for each sweep (notices, unused keys, quiet graces), the database refuses the audit
event of one key of two (a trigger, as a real database refuses a row); the other key is
still handled, the refused one is dropped, counted and logged, and handled by the next
sweep once the database takes it; each exactly once. Before, one refused row rolled
back the tenant's whole turn, every turn."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from relay import background
from relay.audit.models import AuditEvent
from relay.auth.grace import QUIET_AFTER, end_quiet_graces
from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from relay.key_policy.unused_keys import expire_unused_keys
from relay.notices.sweeps import sweep
from tests.auth.test_insight import rotate
from tests.factories import TenantFixture, make_api_key
from tests.key_policy.test_key_policy import make_stale, put_policy

TRIGGER = "relay_test_refuse_audit"


@asynccontextmanager
async def audit_refused_for(db: Database, target_id: uuid.UUID) -> AsyncIterator[None]:
    """While open, the database refuses every audit event about `target_id`."""
    if db.engine.dialect.name == "sqlite":
        create = [
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON audit_events "
            f"WHEN NEW.target_id = '{target_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = [f"DROP TRIGGER {TRIGGER}"]
    else:
        create = [
            f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.target_id = '{target_id}' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$",
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON audit_events "
            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()",
        ]
        drop = [f"DROP TRIGGER {TRIGGER} ON audit_events", f"DROP FUNCTION {TRIGGER}()"]
    async with db.engine.begin() as connection:
        for statement in create:
            await connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        async with db.engine.begin() as connection:
            for statement in drop:
                await connection.exec_driver_sql(statement)


def dropped(writer: str) -> float:
    labels = {"writer": writer}
    return REGISTRY.get_sample_value("relay_background_rows_dropped_total", labels) or 0.0


async def audited(db: Database, action: str, key_id: uuid.UUID) -> int:
    async with db.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.target_id == str(key_id))
        )
    return count or 0


async def check_isolated(
    db: Database,
    caplog: pytest.LogCaptureFixture,
    *,
    run: Callable[[], Awaitable[int]],
    writer: str,
    action: str,
    refused: uuid.UUID,
    accepted: uuid.UUID,
) -> None:
    """`run` (the sweep) while the database refuses `refused`'s audit event, then once
    it takes it. The app's own sweeps may run meanwhile (a raised notice wakes this
    process's): whoever sweeps, each key is handled exactly once, the refused one only
    once the database takes it."""
    before = dropped(writer)
    async with audit_refused_for(db, refused):
        await run()
        assert await audited(db, action, accepted) == 1
        assert await audited(db, action, refused) == 0
    assert dropped(writer) - before >= 1
    drops = [r for r in caplog.records if r.message == "background row dropped"]
    assert drops
    assert {(r.writer, str(refused) in r.row) for r in drops} == {(writer, True)}  # type: ignore[attr-defined]
    await run()
    assert await audited(db, action, refused) == 1
    assert await audited(db, action, accepted) == 1


async def test_a_notice_the_database_refuses_does_not_stop_the_others(
    db: Database, tenant_a: TenantFixture, caplog: pytest.LogCaptureFixture
) -> None:
    soon = utcnow() + timedelta(days=3)
    refused, _ = await make_api_key(db, tenant_a, name="Refused", expires_at=soon)
    accepted, _ = await make_api_key(db, tenant_a, name="Accepted", expires_at=soon)
    await check_isolated(
        db, caplog, run=lambda: sweep(db.sessionmaker), writer="notice sweep",
        action="api_key.expiring", refused=refused, accepted=accepted,
    )  # fmt: skip


async def test_an_unused_key_the_database_refuses_to_expire_does_not_stop_the_others(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await put_policy(client, tenant_a, expire_unused_after_days=30)
    refused, _ = await make_api_key(db, tenant_a, name="Refused")
    accepted, _ = await make_api_key(db, tenant_a, name="Accepted")
    for key_id in (refused, accepted):
        await make_stale(db, key_id, used_days_ago=40, made_days_ago=60)
    cache = app.state.verifier.cache
    await check_isolated(
        db, caplog, run=lambda: expire_unused_keys(db.sessionmaker, cache),
        writer="unused key sweep", action="api_key.expired_unused", refused=refused,
        accepted=accepted,
    )  # fmt: skip


async def test_a_quiet_grace_the_database_refuses_to_end_does_not_stop_the_others(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused, _ = await make_api_key(db, tenant_a, name="Refused")
    accepted, _ = await make_api_key(db, tenant_a, name="Accepted")
    for key_id in (refused, accepted):
        assert (await rotate(client, tenant_a, key_id, "until_quiet")).status_code == 201
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id.in_([refused, accepted]))
            .values(rotated_at=utcnow() - QUIET_AFTER - timedelta(minutes=1))
        )
    cache = app.state.verifier.cache
    await check_isolated(
        db, caplog, run=lambda: end_quiet_graces(db.sessionmaker, cache),
        writer="quiet grace sweep", action="api_key.grace_ended", refused=refused,
        accepted=accepted,
    )  # fmt: skip


async def test_a_sweep_changes_its_rows_a_chunk_at_a_time_and_drops_only_the_bad_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows go SWEEP_CHUNK at a time (a statement naming ten thousand keys would pass the
    databases' limits on parameters): here two, of five keys, one of them refused."""
    monkeypatch.setattr(background, "SWEEP_CHUNK", 2)
    await put_policy(client, tenant_a, expire_unused_after_days=30)
    key_ids = [(await make_api_key(db, tenant_a, name=f"Key {n}"))[0] for n in range(5)]
    for key_id in key_ids:
        await make_stale(db, key_id, used_days_ago=40, made_days_ago=60)
    cache = app.state.verifier.cache
    refused = sorted(key_ids)[2]  # in the second chunk, with the fourth key
    async with audit_refused_for(db, refused):
        await expire_unused_keys(db.sessionmaker, cache)
    failed = [r for r in caplog.records if r.message == "background batch failed"]
    assert [r.rows for r in failed] == [2, 2]  # type: ignore[attr-defined]
    assert [await audited(db, "api_key.expired_unused", k) for k in sorted(key_ids)] == [
        1,
        1,
        0,
        1,
        1,
    ]
    await expire_unused_keys(db.sessionmaker, cache)
    assert {await audited(db, "api_key.expired_unused", k) for k in key_ids} == {1}
