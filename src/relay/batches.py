"""Background writes in which one bad row never stops the others.

Every writer that gathers rows in memory and writes them later (key activity: last
uses, usage counts, new-address and expired-use audit events), and every sweep that
finds rows due and changes them (notices, unused keys, quiet graces:
relay.background.sweep_tenants), hands them to `write_isolating`, which writes the
batch in one transaction; if that fails, tries
it once more (a deadlock or a serialisation failure passes); then writes each row
in a transaction of its own, so that a row the database refuses is dropped alone,
counted in relay_background_rows_dropped_total{writer} and logged, while the rest
lands. Rows that could not be written because the database is unreachable are
returned for the caller to keep until the next time.

An outside review had one 70-character address from a proxy fail a worker's key
activity flush every second for six minutes: every tenant's usage and last use on
that worker were lost until it restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay import metrics
from relay.errors import is_connection_failure

logger = logging.getLogger(__name__)

Row = TypeVar("Row")
# What a write returns (what it did) is handed to the caller once its transaction has
# committed (write_isolating's `results`).
Write = Callable[[AsyncSession, Sequence[Row]], Awaitable[Any]]


class DatabaseUnavailable(Exception):
    """Raised inside: the database did not answer, so no row is to blame."""


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    write: Write[Row],
    rows: Sequence[Row],
    results: list[Any] | None,
) -> None:
    try:
        async with sessionmaker.begin() as session:
            result = await write(session, rows)
    except Exception as exc:
        if is_connection_failure(exc):
            raise DatabaseUnavailable from exc
        raise
    if results is not None:  # committed
        results.append(result)


async def write_isolating(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Sequence[Row],
    write: Write[Row],
    *,
    writer: str,
    describe: Callable[[Row], str],
    results: list[Any] | None = None,
) -> list[Row]:
    """Write `rows` with `write` (which must take any subset of them, one included);
    returns the rows left unwritten because the database is unreachable. A row that
    fails alone for any other reason is dropped: counted and logged as `describe`
    says it (never its values: they may be anyone's). What each committed write
    returned is appended to `results`, when given."""
    if not rows:
        return []
    error = ""
    for attempt in (1, 2):
        try:
            await _write(sessionmaker, write, rows, results)
            return []
        except DatabaseUnavailable:
            return list(rows)
        except Exception as exc:
            error = type(exc).__name__
            logger.warning(
                "background batch failed",
                extra={"writer": writer, "rows": len(rows), "attempt": attempt, "error": error},
            )
    if len(rows) == 1:
        _drop(rows[0], writer, describe, error)
        return []
    for position, row in enumerate(rows):
        try:
            await _write(sessionmaker, write, [row], results)
        except DatabaseUnavailable:
            return list(rows[position:])
        except Exception as exc:
            _drop(row, writer, describe, type(exc).__name__)
    return []


def _drop(row: Row, writer: str, describe: Callable[[Row], str], error: str) -> None:
    metrics.BACKGROUND_ROWS_DROPPED.labels(writer).inc()
    logger.error(
        "background row dropped", extra={"writer": writer, "row": describe(row), "error": error}
    )
