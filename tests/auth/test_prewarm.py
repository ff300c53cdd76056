"""A new worker's key cache is prewarmed with the keys used lately: live ones only, as
many as the settings allow, never a key revoked meanwhile, and never at the cost of
the worker's serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from relay.actors import SYSTEM
from relay.app import create_app
from relay.auth import keys, prewarm
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.config import Settings
from relay.db import Database, utcnow
from tests.auth.lookups import key_lookups, statements_sent
from tests.auth.workers import ready
from tests.conftest import UNREACHABLE_DATABASE, asgi_client
from tests.factories import TenantFixture, key_headers, make_api_key, set_key_expiry

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"


@asynccontextmanager
async def new_worker(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    """A worker started on the test database, as after a deploy, once its prewarm is
    over."""
    worker = create_app(settings.model_copy(update=overrides))
    async with worker.router.lifespan_context(worker):
        await ready(worker)
        yield worker


def cached(worker: FastAPI, key: str) -> bool:
    return worker.state.verifier.cache.get(keys.hash_key(key)) is not None


async def set_key(db: Database, key_id: uuid.UUID, **values: Any) -> None:
    async with db.sessionmaker.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))


async def used_key(db: Database, tenant: TenantFixture, ago: timedelta) -> tuple[uuid.UUID, str]:
    """A key of the tenant last used `ago` before now."""
    key_id, key = await make_api_key(db, tenant)
    await set_key(db, key_id, last_used_at=utcnow() - ago)
    return key_id, key


async def test_a_new_worker_caches_the_live_keys_used_lately(
    settings: Settings, db: Database, tenant_a: TenantFixture
) -> None:
    _, recent = await used_key(db, tenant_a, timedelta(minutes=1))
    _, long_ago = await used_key(db, tenant_a, timedelta(hours=1))  # the window is 10 min
    _, never_used = await make_api_key(db, tenant_a)
    revoked_id, revoked = await used_key(db, tenant_a, timedelta(minutes=1))
    async with db.sessionmaker.begin() as session:
        await auth_service.revoke_api_key(
            session, tenant_id=tenant_a.tenant_id, key_id=revoked_id, actor=SYSTEM
        )
    expired_id, expired = await used_key(db, tenant_a, timedelta(minutes=1))
    await set_key_expiry(db, expired_id, utcnow() - timedelta(seconds=1))
    disabled_id, disabled = await used_key(db, tenant_a, timedelta(minutes=1))
    await set_key(db, disabled_id, disabled_at=utcnow())

    async with new_worker(settings) as worker:
        assert cached(worker, recent)
        for key in (long_ago, never_used, revoked, expired, disabled):
            assert not cached(worker, key)
        assert worker.state.key_prewarm.warmed == 1
        # Its first request is answered from the cache.
        with statements_sent(worker.state.db) as statements:
            async with asgi_client(worker) as client:
                assert (await client.get(DATASETS, headers=key_headers(recent))).status_code == 200
        assert key_lookups(statements) == []


async def test_a_prewarmed_principal_is_the_one_a_cache_miss_builds(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    # Made by a rate-limited key and put in a pool with a quota: the lineage and the
    # pool are resolved alike.
    _, maker = await make_api_key(db, tenant_a, rate_limit=(100, 60))
    pool = await client.post(
        "/api/v1/limit-pools",
        json={"name": "Mobile", "quota": {"requests": 1000, "period": "day"}},
        headers=tenant_a.headers,
    )
    assert pool.status_code == 201
    made = await client.post(
        KEYS, json={"name": "Made", "pool_id": pool.json()["id"]}, headers=key_headers(maker)
    )
    assert made.status_code == 201
    made_id, made_key = uuid.UUID(made.json()["id"]), made.json()["key"]
    await set_key(db, made_id, last_used_at=utcnow())

    async with new_worker(settings) as worker:
        prewarmed = worker.state.verifier.cache.get(keys.hash_key(made_key))
    await ready(app)
    missed = await app.state.verifier.verify(made_key)
    assert prewarmed == missed
    assert len(missed.families) == 2  # its own and its maker's
    assert missed.pool_id is not None


@pytest.mark.parametrize(
    ("limits", "warmed"),
    [
        ({"key_prewarm_limit": 2}, 2),
        ({"key_prewarm_limit": 10, "key_cache_size": 1}, 1),  # never more than it holds
    ],
)
async def test_the_prewarm_takes_the_most_recently_used_keys_up_to_its_limit(
    settings: Settings,
    db: Database,
    tenant_a: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
    limits: dict[str, int],
    warmed: int,
) -> None:
    monkeypatch.setattr(prewarm, "BATCH", 1)  # and across batches
    used = [await used_key(db, tenant_a, timedelta(minutes=minutes)) for minutes in (1, 2, 3)]
    async with new_worker(settings, **limits) as worker:
        assert [cached(worker, key) for _, key in used] == [True] * warmed + [False] * (3 - warmed)
        assert worker.state.key_prewarm.warmed == warmed


async def test_a_limit_of_zero_turns_the_prewarm_off(
    settings: Settings, db: Database, tenant_a: TenantFixture
) -> None:
    _, recent = await used_key(db, tenant_a, timedelta(minutes=1))
    async with new_worker(settings, key_prewarm_limit=0) as worker:
        assert not cached(worker, recent)
        assert worker.state.key_prewarm.warmed == 0


async def test_a_key_revoked_while_the_prewarm_loads_it_is_refused_afterwards(
    settings: Settings, db: Database, tenant_a: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked_id, revoked = await used_key(db, tenant_a, timedelta(minutes=1))
    _, kept = await used_key(db, tenant_a, timedelta(minutes=2))
    loaded, resume = asyncio.Event(), asyncio.Event()
    real_rows = prewarm._FIRST.rows
    loads = 0

    async def held_after_the_first_load(*args: Any) -> list[dict[str, Any]]:
        """The prewarm's real read; the first one held, once answered, until the test
        has revoked a key it read."""
        nonlocal loads
        rows = await real_rows(*args)
        loads += 1
        if loads == 1:
            loaded.set()
            await resume.wait()
        return rows

    monkeypatch.setattr(prewarm._FIRST, "rows", held_after_the_first_load)
    worker = create_app(settings)
    async with worker.router.lifespan_context(worker), asgi_client(worker) as client:
        await asyncio.wait_for(loaded.wait(), timeout=10)
        assert (
            await client.delete(f"{KEYS}/{revoked_id}", headers=tenant_a.headers)
        ).status_code == 204
        resume.set()
        await ready(worker)
        # The raced batch was loaded again (once more on PostgreSQL if the revocation's
        # notification came during that load).
        assert loads >= 2
        assert not cached(worker, revoked)
        assert cached(worker, kept)
        assert (await client.get(DATASETS, headers=key_headers(revoked))).status_code == 401


async def test_a_worker_whose_database_is_unreachable_serves_and_stops(
    settings: Settings,
) -> None:
    # The revocation channel never listens, so the prewarm waits: the worker answers
    # meanwhile, and stopping it ends the wait.
    unreachable = settings.model_copy(update=UNREACHABLE_DATABASE | {"secret_key": "s" * 32})
    worker = create_app(unreachable)
    async with worker.router.lifespan_context(worker), asgi_client(worker) as client:
        assert (await client.get("/healthz")).status_code == 503
        assert not worker.state.key_prewarm.finished.is_set()
    assert worker.state.key_prewarm.finished.is_set()


async def test_a_failed_prewarm_is_logged_and_the_worker_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database the migrations never ran on: the prewarm's read fails.
    empty = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", secret_key="s" * 32)
    worker = create_app(empty)
    async with worker.router.lifespan_context(worker), asgi_client(worker) as client:
        await ready(worker)
        assert (await client.get("/healthz")).status_code == 200
    assert worker.state.key_prewarm.warmed == 0
    assert "key cache prewarm failed" in caplog.text
