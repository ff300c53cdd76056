"""GET /healthz tells whether the database answers; an outage is 503, never 500."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from relay.app import create_app
from relay.auth import keys
from relay.config import Settings
from relay.migrations import upgrade_database
from tests.conftest import UNREACHABLE_DATABASE, asgi_client


@pytest.fixture
async def unreachable_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database refuses connections (a closed port)."""
    unreachable = settings.model_copy(update=UNREACHABLE_DATABASE)
    app = create_app(unreachable)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.db.dispose()


async def test_healthz_is_ok_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_answers_while_another_connection_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    """On SQLite, a server busy writing (a long write, another process's) is up: the
    check waited for the one write lock, timed out and answered 503, and a test server
    under load was never seen to start. A database file of its own: the lock is this
    test's alone to hold."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relay.db'}")
    await asyncio.to_thread(upgrade_database, settings)  # it runs a loop of its own
    app = create_app(settings)
    writer = sqlite3.connect(tmp_path / "relay.db", timeout=10)
    try:
        async with app.router.lifespan_context(app), asgi_client(app) as client:
            writer.execute("BEGIN IMMEDIATE")
            response = await client.get("/healthz")
    finally:
        writer.rollback()
        writer.close()
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_healthz_is_503_when_the_database_is_unreachable(
    unreachable_client: httpx.AsyncClient,
) -> None:
    response = await unreachable_client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "detail": "Service temporarily unavailable",
        "code": "service_unavailable",
    }


async def test_api_answers_503_not_500_when_the_database_is_unreachable(
    unreachable_client: httpx.AsyncClient,
) -> None:
    response = await unreachable_client.get(
        "/api/v1/datasets", headers={"X-API-Key": keys.generate_key()}
    )
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Service temporarily unavailable",
        "code": "service_unavailable",
    }
