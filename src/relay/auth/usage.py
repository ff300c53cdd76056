"""Reading a key's usage: requests per UTC day and status class, for the last N days."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth.models import ApiKeyUsage
from relay.auth.schemas import UsageDay
from relay.db import tenant_select, utcnow

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


async def daily_usage(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, days: int
) -> list[UsageDay]:
    """One entry per day, oldest first, today included; days without use count 0."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    query = tenant_select(ApiKeyUsage, tenant_id).where(
        ApiKeyUsage.key_id == key_id, ApiKeyUsage.day >= first
    )
    counts = {(row.day, row.status_class): row.requests for row in await session.scalars(query)}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        by_status = {status: counts.get((day, status), 0) for status in STATUS_CLASSES}
        result.append(UsageDay(date=day, total=sum(by_status.values()), by_status=by_status))
    return result
