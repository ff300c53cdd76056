"""The busiest reads (the dataset list): Core statements compiled once, run on
asyncpg's own pool on PostgreSQL and through SQLAlchemy on SQLite.

Why a pool of their own: under load SQLAlchemy's pool cost more than the query. With
16 requests at once in a worker, every checkout and checkin went through its greenlet
bridge and its queue. `GET /api/v1/datasets` under wrk (2 workers, -c32, 4 interleaved
rounds of 8 s, 2026-11-28): 2,515-2,709 req/s with the page read on a connection of
SQLAlchemy's pool, 3,225-3,733 on one of asyncpg's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from relay.config import Settings
from relay.errors import is_connection_failure

# How the pool's connections show in pg_stat_activity.
APPLICATION_NAME = "relay-reads"

# A connection PreparedRead runs on: the read pool's (PostgreSQL) or SQLAlchemy's.
Reader: TypeAlias = AsyncConnection | PoolConnectionProxy


# Options of SQLAlchemy's asyncpg adapter, not of asyncpg.connect.
_ADAPTER_OPTIONS = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)


def asyncpg_connect_args(async_database_url: str) -> dict[str, Any]:
    """asyncpg.connect's arguments for the configured database URL, read as SQLAlchemy
    reads it: `?ssl=require` is the connection's TLS mode, as on the engine's own
    connections (a DSN would have sent it to the server as a setting, refused)."""
    url = make_url(async_database_url)
    _, options = asyncpg_dialect.dialect().create_connect_args(url)  # type: ignore[no-untyped-call]
    return {name: value for name, value in options.items() if name not in _ADAPTER_OPTIONS}


# Errors that mean the server closed the connection (restarted, shut down, network);
# not a statement timeout (TimeoutError, an OSError too), which is one slow statement.
_DISCONNECTS = (
    ConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """No reset when a connection goes back to the pool: a prepared read changes no
    session state, and asyncpg's default reset costs a round trip on every release
    (its open transaction, if a failed read left one, asyncpg still rolls back)."""


async def _decode_json(connection: asyncpg.Connection) -> None:
    # As SQLAlchemy's dialect does on its own connections: JSON columns as values.
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class ReadPool:
    """asyncpg's pool for PreparedRead, one per Database on PostgreSQL, bounded as
    SQLAlchemy's is: at most db_read_pool_size connections, each opened when first
    needed; a request waits up to db_pool_timeout for one; a statement ends after
    db_statement_timeout.

    Requests wait for a connection in the order they came: asyncpg's own queue lets a
    newcomer take a connection released to a request already waiting, which then
    waits again at the back. With 16 requests at once on 5 connections that made the
    99th percentile 5 to 9 times the median; queued first-come first-served in front
    of it (an asyncio.Semaphore, which lets no one jump the queue), 1.5 to 2 times."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._turns = asyncio.Semaphore(settings.db_read_pool_size)

    async def _opened(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                settings = self._settings
                self._pool = await asyncpg.create_pool(
                    **asyncpg_connect_args(settings.async_database_url),
                    min_size=0,
                    max_size=settings.db_read_pool_size,
                    timeout=settings.db_connect_timeout,
                    command_timeout=settings.db_statement_timeout,
                    server_settings={"application_name": APPLICATION_NAME},
                    init=_decode_json,
                    reset=_keep_session,
                )
            return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PoolConnectionProxy]:
        pool = self._pool or await self._opened()
        async with asyncio.timeout(self._settings.db_pool_timeout):
            await self._turns.acquire()  # then the pool has a connection free for us
        try:
            async with self._acquired(pool) as connection:
                yield connection
        finally:
            self._turns.release()

    @asynccontextmanager
    async def _acquired(self, pool: asyncpg.Pool) -> AsyncIterator[PoolConnectionProxy]:
        async with pool.acquire(timeout=self._settings.db_pool_timeout) as connection:
            try:
                yield connection
            except BaseException as exc:
                if is_connection_failure(exc):
                    # Never handed out again, and closed now rather than politely
                    # (politely can wait on a hung server).
                    connection.terminate()
                    # The server went away: its other connections went with it.
                    if isinstance(exc, _DISCONNECTS):
                        await pool.expire_connections()
                raise

    async def expire(self) -> None:
        """Replace every connection when next handed out (the database came back)."""
        if self._pool is not None:
            await self._pool.expire_connections()

    async def close(self) -> None:
        """Close the connections; the next read opens a new pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


class PreparedRead:
    """A read-only Core statement for a hot path. On asyncpg's connection it is
    prepared once and then only bound and executed: 70 µs of CPU per run of the dataset
    list instead of SQLAlchemy's 220 (measured here). On SQLAlchemy's, SQLAlchemy runs
    it. Either way the rows come back as dicts, their values as the driver gives them,
    and the parameters must be values asyncpg takes as they are (uuid, int, str, aware
    datetime)."""

    def __init__(self, statement: Select[Any], *, portable: Select[Any] | None = None) -> None:
        """`portable`, when given, is what SQLAlchemy runs instead of `statement`: the
        same read in terms every dialect has (an IN list of a parameter `expanding`,
        where asyncpg's takes one array parameter)."""
        self.statement = statement
        self._portable = statement if portable is None else portable
        compiled = statement.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
        self._sql = compiled.string
        self._names = compiled.positiontup or []
        self._defaults = compiled.params

    async def rows(self, reader: Reader, params: dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(reader, AsyncConnection):
            result = await reader.execute(self._portable, params)
            return [dict(row) for row in result.mappings()]
        arguments = (params.get(name, self._defaults[name]) for name in self._names)
        return [dict(record) for record in await reader.fetch(self._sql, *arguments)]
