"""Keeping the audit log to RELAY_AUDIT_RETENTION_DAYS: older events are deleted every
hour by each server (the delete is idempotent, so workers need not agree who does it)
and on demand by `relay audit prune`."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.audit import service as audit
from relay.background import Periodic
from relay.db import utcnow

logger = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0
# Events deleted per transaction: each delete stays short, well inside the statement
# timeout, and on SQLite holds the write lock briefly, however much there is to prune.
PRUNE_BATCH = 5000


async def prune_expired_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    retention_days: int,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete events older than the retention, `batch` at a time; returns how many."""
    older_than = utcnow() - timedelta(days=retention_days)
    deleted = 0
    while True:
        async with sessionmaker.begin() as session:
            done = await audit.prune(session, older_than=older_than, limit=batch)
        deleted += done
        if done < batch:
            return deleted


class AuditPruner(Periodic):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], retention_days: int) -> None:
        async def prune() -> None:
            deleted = await prune_expired_events(sessionmaker, retention_days)
            if deleted:
                logger.info("audit log pruned", extra={"deleted_events": deleted})

        super().__init__(prune, PRUNE_INTERVAL_SECONDS, "audit prune")
