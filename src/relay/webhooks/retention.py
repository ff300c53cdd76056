"""Keeping the outbox small: deliveries delivered or given up more than RETENTION ago are
deleted every hour by each server (idempotent, as the audit log's pruning), then the
events no delivery refers to any more. Pending deliveries are never deleted here."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.background import Periodic
from relay.db import utcnow
from relay.webhooks.models import DELIVERED, FAILED, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

RETENTION = timedelta(days=30)
PRUNE_INTERVAL_SECONDS = 3600.0
# Rows deleted per transaction: each delete stays short, whatever there is to prune.
PRUNE_BATCH = 5000


async def prune_outbox(session: AsyncSession, *, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` finished deliveries older than RETENTION and up to `limit`
    events left without deliveries that are as old; returns how many rows."""
    older_than = utcnow() - RETENTION
    finished = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status.in_((DELIVERED, FAILED)),
            WebhookDelivery.created_at < older_than,
        )
        .limit(limit)
    )
    deliveries = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.id.in_(finished))
    )
    orphans = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.created_at < older_than,
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
        )
        .limit(limit)
    )
    events = await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(orphans)))
    return int(deliveries.rowcount or 0) + int(events.rowcount or 0)  # type: ignore[attr-defined]


class OutboxPruner(Periodic):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async def prune() -> None:
            deleted = 0
            while True:
                async with sessionmaker.begin() as session:
                    done = await prune_outbox(session)
                deleted += done
                if done == 0:
                    break
            if deleted:
                logger.info("webhook outbox pruned", extra={"deleted_rows": deleted})

        super().__init__(prune, PRUNE_INTERVAL_SECONDS, "webhook outbox prune")
