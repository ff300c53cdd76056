"""The notices' background task, one per worker: sweep for notices due, then send the
mail due (with mail configured), every SWEEP_INTERVAL_SECONDS, and at once when a
commit of this process raised a notice (a leaked key)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.background import BackgroundTask
from relay.config import Settings
from relay.mail import mailer_for
from relay.notices import sender, sweeps

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 60.0
# Batches sent in one turn at most; what is left waits for the next turn.
MAX_BATCHES = 10


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """One turn: raise what is due, then mail what is due."""
    raised = await sweeps.sweep(sessionmaker)
    if raised:
        logger.info("notices raised", extra={"notices": raised})
    mailer = mailer_for(settings)
    if mailer is None:
        return
    for _ in range(MAX_BATCHES):
        if await sender.send_due(sessionmaker, mailer, settings) < sender.BATCH:
            break


class NoticeWorker:
    """Runs `run_once` while the app runs (see the module). A failed turn is logged (its
    exception's type) and the next one tries again."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._wake = asyncio.Event()
        self._task = BackgroundTask(self._run, name="relay-notices")

    async def _run(self) -> None:
        sender.listen(self._wake)
        while True:
            self._wake.clear()
            try:
                await run_once(self._sessionmaker, self._settings)
            except Exception as exc:
                logger.warning("notices turn failed, will retry: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_INTERVAL_SECONDS)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        sender.stop_listening(self._wake)
