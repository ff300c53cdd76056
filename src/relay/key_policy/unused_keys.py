"""Expiring unused keys: under a policy's `expire_unused_after_days`, a key not used for
that many days (or never used and made that long ago) expires, with an
`api_key.expired_unused` audit event (which the dashboard's key list shows).

Every server sweeps every hour. Each key is locked while it is expired (in id order,
so two sweeps queue instead of deadlocking), and its conditions are checked again under
the lock, so two servers sweeping at once expire it once and audit it once, even when
their clocks differ by up to CLOCK_SKEW (a key that expires within that anyway is left
to its own expiry). Its family is then dropped from every worker's key cache, as a
revocation is: the key is refused from its next request. A tenant whose sweep fails is
logged and retried at the next sweep; the others are still swept.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import SYSTEM
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.service import announce_change, audit_target
from relay.background import Periodic, for_each_tenant
from relay.db import utcnow
from relay.key_policy.models import KeyPolicy
from relay.schemas import iso_utc

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 3600.0
CLOCK_SKEW = timedelta(seconds=60)


async def expire_unused_keys(
    sessionmaker: async_sessionmaker[AsyncSession], cache: KeyCache, *, now: datetime | None = None
) -> int:
    """Expire every key its tenant's policy says has gone unused too long; returns how
    many. One transaction per tenant."""
    now = now or utcnow()
    async with sessionmaker() as session:
        policies = (
            await session.execute(
                select(KeyPolicy.tenant_id, KeyPolicy.expire_unused_after_days).where(
                    KeyPolicy.expire_unused_after_days.is_not(None)
                )
            )
        ).all()
    days_of = {tenant_id: days for tenant_id, days in policies if days is not None}
    return await for_each_tenant(
        days_of,
        lambda tenant_id: _expire_for(sessionmaker, cache, tenant_id, days_of[tenant_id], now),
        name="unused key sweep",
    )


async def _expire_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    cache: KeyCache,
    tenant_id: uuid.UUID,
    days: int,
    now: datetime,
) -> int:
    """Expire one tenant's unused keys, in one transaction; returns how many."""
    async with sessionmaker.begin() as session:
        unused_since = now - timedelta(days=days)
        stale = (
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
            .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now + CLOCK_SKEW))
            .where(func.coalesce(ApiKey.last_used_at, ApiKey.created_at) < unused_since)
            .order_by(ApiKey.id)
            .with_for_update()
        )
        keys = list((await session.scalars(stale)).all())
        for api_key in keys:
            last_used = api_key.last_used_at
            api_key.expires_at = now
            audit.record(
                session, tenant_id=tenant_id, action=Action.API_KEY_EXPIRED_UNUSED,
                actor=SYSTEM, target=audit_target(api_key),
                details={
                    "expire_unused_after_days": days,
                    "last_used_at": iso_utc(last_used) if last_used else None,
                },
            )  # fmt: skip
            await announce_change(session, api_key)
    for api_key in keys:  # committed: drop them here too (others hear the notification)
        cache.forget_family(api_key.family_id)
    return len(keys)


class UnusedKeySweeper(Periodic):
    """Runs expire_unused_keys every hour while the app runs."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache: KeyCache) -> None:
        async def sweep() -> None:
            expired = await expire_unused_keys(sessionmaker, cache)
            if expired:
                logger.info("unused keys expired", extra={"expired_keys": expired})

        super().__init__(sweep, SWEEP_INTERVAL_SECONDS, "unused key sweep")
