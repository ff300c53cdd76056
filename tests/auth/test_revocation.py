"""Cached verification, and revocation that no worker honours late."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from relay.actors import SYSTEM
from relay.app import create_app
from relay.auth import keys, principals, revocations
from relay.auth import service as auth_service
from relay.auth.verifier import KeyVerifier
from relay.config import Settings
from relay.db import Database
from relay.errors import AuthenticationError
from tests.auth.lookups import key_lookups, statements_sent
from tests.auth.workers import first_refusal, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"


async def test_warm_key_is_verified_without_the_database(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    await client.get(DATASETS, headers=tenant_a.headers)
    with statements_sent(db) as statements:
        for _ in range(10):
            assert (await client.get(DATASETS, headers=tenant_a.headers)).status_code == 200
    assert key_lookups(statements) == []


async def test_unknown_key_reaches_the_database_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await ready(app)
    unknown = {"X-API-Key": keys.generate_key()}
    with statements_sent(db) as statements:
        for _ in range(10):
            assert (await client.get(DATASETS, headers=unknown)).status_code == 401
    assert len(key_lookups(statements)) == 1


async def test_requests_that_miss_one_key_at_once_share_one_lookup(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    verifier: KeyVerifier = app.state.verifier
    _, key = await make_api_key(db, tenant_a)
    with statements_sent(db) as statements:
        principals = await asyncio.gather(*(verifier.verify(key) for _ in range(32)))
    assert len(key_lookups(statements)) == 1
    assert len(set(principals)) == 1


async def test_a_request_after_a_revoke_never_shares_a_lookup_begun_before_it(
    app: FastAPI, db: Database, tenant_a: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ready(app)
    verifier: KeyVerifier = app.state.verifier
    key_id, key = await make_api_key(db, tenant_a)
    read, resume = asyncio.Event(), asyncio.Event()
    real_rows = principals._BY_HASH.rows

    async def first_held(*args: Any) -> list[dict[str, Any]]:
        """The verifier's real read; the first one held, once answered, until the key
        is revoked."""
        rows = await real_rows(*args)
        if not read.is_set():
            read.set()
            await resume.wait()
        return rows

    monkeypatch.setattr(principals._BY_HASH, "rows", first_held)
    before = asyncio.create_task(verifier.verify(key))
    await asyncio.wait_for(read.wait(), timeout=10)
    async with db.sessionmaker() as session:
        api_key = await auth_service.revoke_api_key(
            session, tenant_id=tenant_a.tenant_id, key_id=key_id, actor=SYSTEM
        )
        await verifier.commit_change(session, api_key)
    with pytest.raises(AuthenticationError):  # not the held lookup's answer: its own
        await asyncio.wait_for(verifier.verify(key), timeout=10)
    resume.set()
    await before  # began before the revoke: it may pass, but caches nothing
    with pytest.raises(AuthenticationError):
        await verifier.verify(key)


async def test_cached_key_is_refused_right_after_its_revoke(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    key_id, key = await make_api_key(db, tenant_a)
    for _ in range(3):
        assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 200
    assert (await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)).status_code == 204
    assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 401


async def test_other_worker_refuses_a_key_revoked_elsewhere(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    key_id, key = await make_api_key(db, tenant_a)
    async with asgi_client(second_worker) as other:
        assert (
            await other.get(DATASETS, headers={"X-API-Key": key})
        ).status_code == 200  # cached there
        assert (
            await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)
        ).status_code == 204
        assert (await first_refusal(other, key)).status_code == 401
    assert second_worker.state.revocation_listener.notifications_received >= 1


async def test_broken_channel_never_lets_a_revoked_key_through(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    key_id, key = await make_api_key(db, tenant_a)
    listener = second_worker.state.revocation_listener
    async with asgi_client(second_worker) as other:
        assert (await other.get(DATASETS, headers={"X-API-Key": key})).status_code == 200
        async with db.engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.connection_pid}
            )
        # The notification of this revoke is lost: the other worker is not listening.
        assert (
            await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)
        ).status_code == 204
        assert (await other.get(DATASETS, headers={"X-API-Key": key})).status_code == 401

        # The channel comes back by itself, and the key stays refused.
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        assert second_worker.state.verifier.cache_trusted
        assert (await other.get(DATASETS, headers={"X-API-Key": key})).status_code == 401


async def test_listener_survives_an_unexpected_error(
    settings: Settings, is_sqlite: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen in CI: asyncpg raised its own InternalClientError while PostgreSQL shut
    # down, the listener task died, and the worker never trusted its cache again.
    if is_sqlite:
        pytest.skip("the revocation channel is PostgreSQL's LISTEN/NOTIFY")
    real_connect = revocations.asyncpg.connect
    calls = 0

    async def flaky_connect(*args: object, **kwargs: object) -> object:
        # Only the listener's connection: it names itself to the server.
        nonlocal calls
        if kwargs.get("server_settings") == {"application_name": revocations.APPLICATION_NAME}:
            calls += 1
            if calls == 1:
                raise RuntimeError("something asyncpg did not expect")
        return await real_connect(*args, **kwargs)

    monkeypatch.setattr(revocations.asyncpg, "connect", flaky_connect)
    worker = create_app(settings)
    async with worker.router.lifespan_context(worker):
        await ready(worker)
        assert worker.state.verifier.cache_trusted
    assert calls == 2
