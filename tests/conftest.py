"""Test fixtures: a real database built by the migrations, an app, two tenants.

The suite runs on a throw-away SQLite file, or on the PostgreSQL database named
by RELAY_TEST_DATABASE_URL. Every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, make_url
from sqlalchemy.exc import OperationalError

from relay.app import create_app
from relay.config import Settings
from relay.db import Base, Database, open_database
from relay.migrations import upgrade_database
from relay.reads import asyncpg_connect_args
from tests.auth.workers import ready
from tests.connection_holding import HeldConnections, watch_connections
from tests.factories import TenantFixture, make_tenant
from tests.live_server import LiveServer, run_server
from tests.mail_server import MailServer, run_mail_server
from tests.redis_server import RedisServer, run_redis

# Settings for a database that refuses connections (a closed port), told quickly.
UNREACHABLE_DATABASE = {
    "database_url": "postgresql://nobody@127.0.0.1:1/none",
    "db_connect_timeout": 0.5,
}


async def _create_database_if_missing(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(**asyncpg_connect_args(server_url))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def _test_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite in the session's temporary directory, or RELAY_TEST_DATABASE_URL; with
    pytest-xdist, each worker gets a database of its own (`<name>_gw0`, ...)."""
    configured = os.environ.get("RELAY_TEST_DATABASE_URL")
    if not configured:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'relay-test.db'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return configured
    url = make_url(configured)
    name = f"{url.database}_{worker}"
    asyncio.run(_create_database_if_missing(configured, name))
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(database_url=_test_database_url(tmp_path_factory))
    upgrade_database(settings)
    return settings


@pytest.fixture(scope="session")
def is_sqlite(settings: Settings) -> bool:
    return settings.is_sqlite


@pytest.fixture(autouse=True)
def no_connection_held_while_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[HeldConnections]:
    """No task of any test may hold a pooled connection while it waits for another
    one, or for argon2 (tests/connection_holding.py). A test may ask what it holds."""
    with watch_connections(monkeypatch) as held:
        yield held
    assert held.violations == [], "\n".join(dict.fromkeys(held.violations))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A fresh app per test: its background tasks and connections end with the test,
    so nothing holds a lock while a later test runs a server or the CLI."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
    # After shutdown, so that the app's last writes (its final flush) are gone too.
    await emptied(settings)


# On SQLite the session's shared live server (its periodic sweeps) may hold the one
# write lock past busy_timeout (5 s) while the machine is loaded: the emptying waits
# that long again rather than fail the test it follows.
_EMPTYING_ATTEMPTS = 6


async def emptied(settings: Settings) -> None:
    """Every table of the test database emptied, waiting out the write lock of a server
    sharing it (SQLite)."""
    for attempt in range(1, _EMPTYING_ATTEMPTS + 1):
        try:
            async with open_database(settings) as database, database.sessionmaker.begin() as s:
                for table in reversed(Base.metadata.sorted_tables):
                    await s.execute(delete(table))
            return
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == _EMPTYING_ATTEMPTS:
                raise


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
async def tenant_a(db: Database) -> TenantFixture:
    return await make_tenant(db, name="Tenant A")


@pytest.fixture
async def tenant_b(db: Database) -> TenantFixture:
    return await make_tenant(db, name="Tenant B")


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real `relay serve` process on the test database, shared by the session.

    Every browser test signs up and in from 127.0.0.1: the per-address shares of
    sign-ups and sign-ins (tested on their own) are lifted for this shared server."""
    log_path = tmp_path_factory.mktemp("live") / "relay-serve.log"
    env = {"RELAY_SIGNUP_LIMIT": "100000", "RELAY_SIGNIN_ATTEMPT_LIMIT": "100000"}
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for the tests, shared by the session (flush it between uses)."""
    with run_redis() as server:
        yield server


@pytest.fixture
async def second_worker(settings: Settings, is_sqlite: bool) -> AsyncIterator[FastAPI]:
    """Another app on the same PostgreSQL database: a second worker or server."""
    if is_sqlite:
        pytest.skip("several workers need PostgreSQL (relay serve refuses them on SQLite)")
    worker = create_app(settings)
    async with worker.router.lifespan_context(worker):
        await ready(worker)
        yield worker


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """A real SMTP server for the tests, shared by the session (each test reads the
    messages to its own fresh addresses)."""
    with run_mail_server() as server:
        yield server


def asgi_client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client of the app in this process, calling from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
