"""Seeing each connection the read pool (relay.reads.ReadPool) hands out while a block
runs: the read path that SQLAlchemy's pool events do not cover."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from relay.reads import ReadPool


@contextmanager
def on_read_connections(
    acquired: Callable[[Any], None], released: Callable[[Any], None]
) -> Iterator[None]:
    """Call `acquired(connection)` as every ReadPool hands a connection out, and
    `released(connection)` as it takes it back."""
    original = ReadPool.connection

    @asynccontextmanager
    async def hooked(pool: ReadPool) -> AsyncIterator[Any]:
        async with original(pool) as connection:
            acquired(connection)
            try:
                yield connection
            finally:
                released(connection)

    ReadPool.connection = hooked  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        ReadPool.connection = original  # type: ignore[method-assign]
