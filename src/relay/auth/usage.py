"""Coalesced `last_used_at` writes: uses are gathered in memory and written in one
statement per flush, so a key used thousands of times a second costs one UPDATE."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.auth.models import ApiKey
from relay.background import BackgroundTask
from relay.db import utcnow

logger = logging.getLogger(__name__)

_api_keys = cast(Table, ApiKey.__table__)
# Never moves a timestamp backwards: another worker may have written a later use.
_RECORD_USE = (
    update(_api_keys)
    .where(
        _api_keys.c.id == bindparam("key_id"),
        or_(_api_keys.c.last_used_at.is_(None), _api_keys.c.last_used_at < bindparam("used_at")),
    )
    .values(last_used_at=bindparam("used_at"))
)


class UsageRecorder:
    """Remembers the latest use of each key and writes them every `interval` seconds."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._pending: dict[uuid.UUID, datetime] = {}
        self._timer = BackgroundTask(self._run, name="relay-usage-flush")

    @property
    def pending_uses(self) -> int:
        """How many keys have a use not yet written."""
        return len(self._pending)

    def record(self, key_id: uuid.UUID) -> None:
        """Note a use now; costs a dict assignment, no I/O."""
        self._pending[key_id] = utcnow()

    async def flush(self) -> int:
        """Write every pending use in one statement; returns how many keys it touched."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        # Rows are locked in key order: workers flushing the same keys at once then
        # queue behind each other instead of deadlocking.
        params = [{"key_id": key_id, "used_at": pending[key_id]} for key_id in sorted(pending)]
        try:
            async with self._sessionmaker.begin() as session:
                await session.execute(_RECORD_USE, params)
        except BaseException:
            # Keep the uses for the next flush; a use recorded meanwhile is newer.
            self._pending = pending | self._pending
            raise
        return len(pending)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception as exc:
                logger.warning("last_used_at flush failed, will retry: %s", type(exc).__name__)

    def start(self) -> None:
        self._timer.start()

    async def stop(self) -> None:
        """Stop the timer and write what is left (on shutdown)."""
        await self._timer.stop()
        try:
            await self.flush()
        except Exception as exc:
            logger.warning("final last_used_at flush failed: %s", type(exc).__name__)
