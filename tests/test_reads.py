"""The read pool (PostgreSQL): bounded like SQLAlchemy's, statements bounded by the
statement timeout, and no connection handed out again once it is broken or the
database has been away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import func, literal, select

from relay.config import Settings
from relay.db import Database
from relay.errors import is_connection_failure
from relay.reads import PreparedRead, Reader, ReadPool
from tests.connection_holding import HeldConnections

ONE = PreparedRead(select(literal(1).label("one")))
BACKEND = PreparedRead(select(func.pg_backend_pid().label("pid")))
HANG = PreparedRead(select(func.pg_sleep(5).label("slept")))


@pytest.fixture
def postgresql_only(is_sqlite: bool) -> None:
    if is_sqlite:
        pytest.skip("the read pool is PostgreSQL's (SQLite reads through SQLAlchemy)")


@pytest.fixture
async def reads(settings: Settings, postgresql_only: None) -> AsyncIterator[ReadPool]:
    database = Database(
        settings.model_copy(
            update={"db_read_pool_size": 2, "db_pool_timeout": 0.2, "db_statement_timeout": 0.3}
        )
    )
    assert database.reads is not None
    try:
        yield database.reads
    finally:
        await database.dispose()


async def _pid(connection: Reader) -> int:
    """The server process behind a connection: a new one means a new connection."""
    (row,) = await BACKEND.rows(connection, {})
    return int(row["pid"])


async def _backend(reads: ReadPool) -> int:
    async with reads.connection() as connection:
        return await _pid(connection)


async def test_requests_beyond_the_read_pool_wait_then_are_unavailable(reads: ReadPool) -> None:
    async with reads.connection() as first, reads.connection() as second:
        opened = {await _pid(c) for c in (first, second)}
        with pytest.raises(TimeoutError) as waited:
            async with reads.connection():
                pass
        assert is_connection_failure(waited.value)  # answered 503
    assert await _backend(reads) in opened  # returned connections are reused


async def test_requests_get_a_read_connection_in_the_order_they_asked(
    settings: Settings, postgresql_only: None
) -> None:
    """asyncpg's own queue let a request that had just given its connection back take
    it again ahead of those waiting: under wrk (16 requests, 5 connections per worker)
    the 99th percentile was 5 to 9 times the median."""
    database = Database(settings.model_copy(update={"db_read_pool_size": 2}))
    assert database.reads is not None
    tickets = iter(range(1_000_000))
    served: list[int] = []

    async def request_often(reads: ReadPool) -> None:
        for _ in range(40):
            ticket = next(tickets)  # taken in the order connection() is called
            async with reads.connection() as connection:
                served.append(ticket)
                await ONE.rows(connection, {})

    try:
        # Both connections open before tickets count: opening one takes longer than
        # handing out an open one, and would reorder the first two.
        async with database.reads.connection(), database.reads.connection():
            pass
        await asyncio.gather(*(request_often(database.reads) for _ in range(8)))
    finally:
        await database.dispose()
    assert len(served) == 320
    assert served == sorted(served)


async def test_a_statement_timeout_closes_that_connection_alone(reads: ReadPool) -> None:
    async with reads.connection() as first, reads.connection() as second:
        opened = {await _pid(c) for c in (first, second)}
    timed_out: list[int] = []

    async def hang() -> None:
        async with reads.connection() as connection:
            timed_out.append(await _pid(connection))
            await HANG.rows(connection, {})

    with pytest.raises(TimeoutError):
        await hang()
    # A slow statement is not an outage: the other connection stays in the pool.
    async with reads.connection() as first, reads.connection() as second:
        now = {await _pid(c) for c in (first, second)}
    assert timed_out[0] not in now
    assert (opened - set(timed_out)) <= now


async def test_a_database_url_with_connection_options_reaches_the_read_pool(
    settings: Settings, postgresql_only: None
) -> None:
    """`?ssl=...` is how SQLAlchemy's asyncpg URLs set TLS; taken for a server
    setting, PostgreSQL refused every read connection."""
    separator = "&" if "?" in settings.database_url else "?"
    database = Database(
        settings.model_copy(
            update={"database_url": f"{settings.database_url}{separator}ssl=disable"}
        )
    )
    try:
        async with database.read_connection() as connection:
            assert await ONE.rows(connection, {}) == [{"one": 1}]
    finally:
        await database.dispose()


async def test_a_read_over_the_statement_timeout_ends_as_unavailable_and_the_pool_goes_on(
    reads: ReadPool,
) -> None:
    with pytest.raises(TimeoutError) as hung:
        async with reads.connection() as connection:
            await HANG.rows(connection, {})
    assert is_connection_failure(hung.value)
    async with reads.connection() as connection:
        assert await ONE.rows(connection, {}) == [{"one": 1}]


async def test_a_connection_asyncpg_calls_unusable_is_not_handed_out_again(
    reads: ReadPool,
) -> None:
    """The state PostgreSQL stopping mid-statement left a connection in (seen in the
    outage test as "another operation is in progress")."""
    broken: list[int] = []

    async def read_while_busy() -> None:
        async with reads.connection() as connection:
            broken.append(await _pid(connection))
            sleeping = asyncio.create_task(connection.fetch("SELECT pg_sleep(0.2)"))
            # One turn of the loop: the statement is sent and the connection busy.
            await asyncio.sleep(0)
            try:
                await ONE.rows(connection, {})
            finally:
                await asyncio.gather(sleeping, return_exceptions=True)

    with pytest.raises(asyncpg.InterfaceError, match="another operation") as refused:
        await read_while_busy()
    assert is_connection_failure(refused.value)  # answered 503
    assert await _backend(reads) not in broken


async def test_after_the_database_came_back_every_read_connection_is_replaced(
    reads: ReadPool,
) -> None:
    async with reads.connection() as first, reads.connection() as second:
        before = {await _pid(connection) for connection in (first, second)}
    await reads.expire()  # what the revocation listener's reconnect calls
    async with reads.connection() as first, reads.connection() as second:
        after = {await _pid(connection) for connection in (first, second)}
    assert not before & after


async def test_the_watch_on_held_connections_counts_read_connections(
    reads: ReadPool, no_connection_held_while_waiting: HeldConnections
) -> None:
    # So that every test also fails a task taking a second connection while it
    # holds a read connection, or the other way round (tests/connection_holding.py).
    held = no_connection_held_while_waiting
    async with reads.connection():
        assert held.held_by_this_task() == 1
    assert held.held_by_this_task() == 0
