"""Counting what reaches the database on either of an app's paths to it: SQLAlchemy's
engine, and on PostgreSQL its read pool (reads.ReadPool), where the verifier looks
keys up and the prewarm loads them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from asyncpg.connection import LoggedQuery

from relay.db import Database
from relay.reads import ReadPool
from tests.statements import count_statements


@contextmanager
def statements_sent(db: Database) -> Iterator[list[str]]:
    """Every statement the app's engine and read pool send while the block runs."""
    original = ReadPool.connection
    with count_statements(db) as statements:

        def on_query(query: LoggedQuery) -> None:
            statements.append(query.query)

        @asynccontextmanager
        async def logged_connection(pool: ReadPool) -> AsyncIterator[Any]:
            async with original(pool) as connection:
                connection.add_query_logger(on_query)
                try:
                    yield connection
                finally:
                    connection.remove_query_logger(on_query)

        ReadPool.connection = logged_connection  # type: ignore[method-assign]
        try:
            yield statements
        finally:
            ReadPool.connection = original  # type: ignore[method-assign]


def key_lookups(statements: list[str]) -> list[str]:
    """The verifier's lookups of a key by its hash; not the background sweeps' queries
    of api_keys (unused keys, notices, quiet graces) that a request's moment may meet."""
    return [
        s
        for s in statements
        if "FROM api_keys" in s
        and "api_keys.key_hash =" in s
        and s.lstrip().upper().startswith("SELECT")
    ]
