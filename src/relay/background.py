"""Long-running coroutines that live as long as the app (started in its lifespan): one
that runs until stopped, and a job run every so often."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

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
