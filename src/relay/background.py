"""Long-running coroutines that live as long as the app (started in its lifespan): one
that runs until stopped, and a job run every so often; and what sweeps share (a job per
tenant, a session that reads without a transaction)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)


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


async def for_each_tenant(
    tenant_ids: Iterable[uuid.UUID], job: Callable[[uuid.UUID], Awaitable[int]], *, name: str
) -> int:
    """Run a sweep's `job` for each tenant in turn (each in its own transaction, the
    job's): one that fails is logged (its exception's type) and left for the next turn,
    and the others go on. Returns the sum of what the jobs returned."""
    total = 0
    for tenant_id in tenant_ids:
        try:
            total += await job(tenant_id)
        except Exception as exc:
            logger.warning(
                "%s failed for a tenant, will retry",
                name,
                extra={"tenant_id": str(tenant_id), "error": type(exc).__name__},
            )
    return total


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that reads outside any transaction. A sweep looks first for what it has
    to do: every worker sweeps every minute and almost always finds nothing, and on
    SQLite a transaction takes the one write lock (relay.db's BEGIN IMMEDIATE)."""
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
