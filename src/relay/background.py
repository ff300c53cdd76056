"""Long-running coroutines that live as long as the app (started in its lifespan): one
that runs until stopped, and a job run every so often; and what sweeps share (tenant
after tenant, one bad row dropped alone; a session that reads without a transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.batches import write_isolating

logger = logging.getLogger(__name__)

Row = TypeVar("Row")
Done = TypeVar("Done")


class BackgroundTask:
    """Starts `run()` as a task and cancels it cleanly on stop."""

    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class Periodic:
    """Runs `job()` at once, then every `interval` seconds, while the app runs. A failed
    run is logged (its exception's type: no message that could hold data) and the next
    turn tries again; the job logs what it did itself."""

    def __init__(
        self, job: Callable[[], Coroutine[Any, Any, None]], interval: float, name: str
    ) -> None:
        self._job = job
        self._interval = interval
        self._name = name
        self._task = BackgroundTask(self._run, name=f"relay-{name.replace(' ', '-')}")

    async def _run(self) -> None:
        while True:
            try:
                await self._job()
            except Exception as exc:
                logger.warning("%s failed, will retry: %s", self._name, type(exc).__name__)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()


# Rows a sweep changes in one transaction at most: a statement naming them stays far
# below the databases' limits on parameters, and a transaction short.
SWEEP_CHUNK = 500


async def sweep_tenants(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_ids: Iterable[uuid.UUID],
    find: Callable[[AsyncSession, uuid.UUID], Awaitable[Sequence[Row]]],
    act: Callable[[AsyncSession, uuid.UUID, Sequence[Row]], Awaitable[Sequence[Done]]],
    *,
    writer: str,
    describe: Callable[[Row], str],
    committed: Callable[[Sequence[Done]], None] | None = None,
) -> list[Done]:
    """A sweep, tenant after tenant: `find` the rows due, reading outside any
    transaction (nothing due, nothing locked), then `act` on them, SWEEP_CHUNK at a time
    in a transaction each, which must check each row again under its lock and return
    what it did. Through `write_isolating`: when a transaction fails, it is tried once
    more, then row by row, so that a row the database refuses is dropped alone (counted
    in relay_background_rows_dropped_total{writer}, logged) while the tenant's other
    rows, and the other tenants, go on; it is found again next time. What each
    transaction did goes to `committed` once it has committed; all of it is returned."""
    done: list[Done] = []
    for tenant_id in tenant_ids:
        try:
            async with reading(sessionmaker) as session:
                rows = await find(session, tenant_id)
        except Exception as exc:
            logger.warning(
                "%s failed for a tenant, will retry",
                writer,
                extra={"tenant_id": str(tenant_id), "error": type(exc).__name__},
            )
            continue

        async def act_for(
            session: AsyncSession, some: Sequence[Row], tenant_id: uuid.UUID = tenant_id
        ) -> Sequence[Done]:
            return await act(session, tenant_id, some)

        for start in range(0, len(rows), SWEEP_CHUNK):
            results: list[Sequence[Done]] = []
            unwritten = await write_isolating(
                sessionmaker, rows[start : start + SWEEP_CHUNK], act_for, writer=writer,
                describe=describe, results=results,
            )  # fmt: skip
            for result in results:
                done.extend(result)
                if committed is not None:
                    committed(result)
            if unwritten:  # the database stopped answering: found again next time
                logger.warning(
                    "%s could not reach the database, will retry",
                    writer,
                    extra={"tenant_id": str(tenant_id), "rows": len(rows) - start},
                )
                break
    return done


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that reads outside any transaction. A sweep looks first for what it has
    to do: every worker sweeps every minute and almost always finds nothing, and on
    SQLite a transaction takes the one write lock (relay.db's BEGIN IMMEDIATE)."""
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
