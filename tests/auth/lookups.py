"""Counting what reaches the database on either of an app's paths to it: SQLAlchemy's
engine, and on PostgreSQL its read pool (reads.ReadPool), where the verifier looks
keys up and the prewarm loads them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from asyncpg.connection import LoggedQuery

from relay.db import Database
from tests.read_pool import on_read_connections
from tests.statements import count_statements


@contextmanager
def statements_sent(db: Database) -> Iterator[list[str]]:
    """Every statement the app's engine and read pool send while the block runs."""
    with count_statements(db) as statements:

        def on_query(query: LoggedQuery) -> None:
            statements.append(query.query)

        with on_read_connections(
            lambda connection: connection.add_query_logger(on_query),
            lambda connection: connection.remove_query_logger(on_query),
        ):
            yield statements


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
