"""The PostgreSQL connection pool: a fixed number of connections per worker, and
none handed out again once asyncpg says it is unusable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import literal, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection

from relay.config import Settings
from relay.db import Database, create_engine
from relay.errors import is_connection_failure
from relay.reads import PreparedRead
from tests.pausable_proxy import PausableProxy

ONE = PreparedRead(select(literal(1).label("one")))


async def test_requests_beyond_the_pool_wait_instead_of_opening_connections(
    settings: Settings, is_sqlite: bool
) -> None:
    if is_sqlite:
        pytest.skip("the pool settings are PostgreSQL's")
    database = Database(settings.model_copy(update={"db_pool_size": 2, "db_pool_timeout": 0.2}))
    try:
        async with database.engine.connect(), database.engine.connect():
            # A third would once have opened an overflow connection, to close it
            # again on return; now it waits for one of the two, then gives up.
            with pytest.raises(PoolTimeoutError):
                async with database.engine.connect():
                    pass
        async with database.engine.connect():  # returned connections are reused
            assert database.engine.pool.checkedout() == 1
    finally:
        await database.dispose()


async def test_a_request_queued_for_a_connection_outwaits_the_connect_timeout(
    settings: Settings, is_sqlite: bool
) -> None:
    """A queue for the pool is load, not an outage: on a busy CI machine requests
    waited longer than the 3 s connect timeout for a connection, and got 503."""
    if is_sqlite:
        pytest.skip("the pool settings are PostgreSQL's")
    database = Database(
        settings.model_copy(
            update={"db_pool_size": 1, "db_connect_timeout": 0.1, "db_pool_timeout": 30}
        )
    )
    try:
        holder = await database.engine.connect()
        waiter = asyncio.create_task(database.engine.connect().start())
        # Held for five connect timeouts while the waiter queues.
        await asyncio.sleep(0.5)
        assert not waiter.done()
        await holder.close()
        connection = await asyncio.wait_for(waiter, timeout=30)
        assert (await connection.scalar(select(literal(1)))) == 1
        await connection.close()
    finally:
        await database.dispose()


async def test_a_statement_over_the_timeout_ends_as_unavailable_and_the_pool_goes_on(
    settings: Settings, is_sqlite: bool
) -> None:
    """An outside review: with PostgreSQL hung (not refusing), nothing bounded a
    statement: the pool's connections were held for good, every request waited."""
    if is_sqlite:
        pytest.skip("the statement timeout is PostgreSQL's")
    database = Database(
        settings.model_copy(update={"db_pool_size": 1, "db_statement_timeout": 0.2})
    )
    try:
        with pytest.raises(TimeoutError) as hung:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(5)"))
        assert is_connection_failure(hung.value)  # answered 503
        assert database.engine.pool.checkedout() == 0
        async with database.engine.connect() as connection:  # the pool goes on
            assert (await connection.scalar(select(literal(1)))) == 1
    finally:
        await database.dispose()


@pytest.mark.parametrize("pool", ["sqlalchemy", "reads"])
async def test_after_a_hang_the_pool_answers_again_by_itself(
    settings: Settings, is_sqlite: bool, pool: str
) -> None:
    """While PostgreSQL hangs, statements end as unavailable after the statement
    timeout; once it answers again, so does the pool, without a restart. The same for
    SQLAlchemy's pool and for the read pool (asyncpg's)."""
    if is_sqlite:
        pytest.skip("the statement timeout is PostgreSQL's")
    url = make_url(settings.database_url)
    proxy = PausableProxy(url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=await proxy.start())
    database = Database(
        settings.model_copy(
            update={
                "database_url": proxied.render_as_string(hide_password=False),
                "db_pool_size": 1,
                "db_read_pool_size": 1,
                "db_statement_timeout": 0.3,
                "db_connect_timeout": 0.3,
                "db_pool_timeout": 0.3,
            }
        )
    )

    async def one() -> object:
        """The query's answer, or how it failed."""
        try:
            async with (
                database.read_connection()
                if pool == "reads"
                else database.engine.connect() as connection
            ):
                (row,) = await ONE.rows(connection, {})
                return row["one"]
        except Exception as exc:
            return exc

    try:
        assert await one() == 1
        proxy.flowing.clear()
        # Bounded here so that, unbounded in Relay, the test fails instead of hanging.
        hung = [await asyncio.wait_for(one(), timeout=5) for _ in range(3)]
        assert all(
            isinstance(answer, Exception) and is_connection_failure(answer) for answer in hung
        ), hung  # each answered 503
        proxy.flowing.set()
        answers = [await one() for _ in range(3)]
        assert answers[-1] == 1, answers
    finally:
        await database.dispose()
        await proxy.stop()


async def test_migrations_are_not_bounded_by_the_statement_timeout(
    settings: Settings, is_sqlite: bool
) -> None:
    if is_sqlite:
        pytest.skip("the statement timeout is PostgreSQL's")
    engine = create_engine(settings.model_copy(update={"db_statement_timeout": 0.1}), bounded=False)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_sleep(0.3)"))
    finally:
        await engine.dispose()


@pytest.fixture
async def busy_connection(
    settings: Settings, is_sqlite: bool
) -> AsyncIterator[tuple[Database, AsyncConnection]]:
    """A pooled connection whose asyncpg connection is in the middle of another
    statement: the state PostgreSQL stopping mid-statement left one in (seen in the
    outage test as "another operation is in progress")."""
    if is_sqlite:
        pytest.skip("asyncpg's connection states are PostgreSQL's")
    database = Database(settings)
    try:
        async with database.engine.connect() as connection:
            driver: Any = (await connection.get_raw_connection()).driver_connection
            sleeping = asyncio.create_task(driver.fetch("SELECT pg_sleep(0.5)"))
            # One turn of the loop: the task runs until it waits for the server, its
            # statement sent and the connection marked busy.
            await asyncio.sleep(0)
            yield database, connection
            await asyncio.gather(sleeping, return_exceptions=True)
    finally:
        await database.dispose()


async def test_a_connection_asyncpg_calls_unusable_is_discarded_and_answered_503(
    busy_connection: tuple[Database, AsyncConnection],
) -> None:
    _database, connection = busy_connection
    with pytest.raises(DBAPIError) as refused:
        await connection.execute(text("SELECT 1"))
    assert "another operation is in progress" in str(refused.value)
    # SQLAlchemy alone keeps such a connection in the pool: the next request got it.
    assert refused.value.connection_invalidated
    assert connection.invalidated
    assert is_connection_failure(refused.value)  # so the answer is 503, not 500
