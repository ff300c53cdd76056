"""Expiring unused keys: under a policy's `expire_unused_after_days`, a key not used for
that many days (or never used and made that long ago) expires, with an
`api_key.expired_unused` audit event (which the dashboard's key list shows).

Every server sweeps every hour. Each key is locked while it is expired (in id order,
so two sweeps queue instead of deadlocking), and its conditions are checked again under
the lock, so two servers sweeping at once expire it once and audit it once, even when
their clocks differ by up to CLOCK_SKEW (a key that expires within that anyway is left
to its own expiry). Its family is then dropped from every worker's key cache, as a
revocation is: the key is refused from its next request. A key that cannot be expired
is dropped alone, counted and logged, and found again at the next sweep; the other keys
and tenants are still swept (relay.auth.sweeps).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import SYSTEM
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.service import audit_target
from relay.auth.sweeps import sweep_keys
from relay.background import Periodic, reading
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
    many. One transaction per tenant (relay.auth.sweeps: a key that cannot be expired is
    dropped alone, the others are)."""
    now = now or utcnow()
    async with reading(sessionmaker) as session:
        policies = (
            await session.execute(
                select(KeyPolicy.tenant_id, KeyPolicy.expire_unused_after_days).where(
                    KeyPolicy.expire_unused_after_days.is_not(None)
                )
            )
        ).all()
    days_of = {tenant_id: days for tenant_id, days in policies if days is not None}

    def stale(tenant_id: uuid.UUID) -> Select[ApiKey]:
        unused_since = now - timedelta(days=days_of[tenant_id])
        return (
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
            .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now + CLOCK_SKEW))
            .where(func.coalesce(ApiKey.last_used_at, ApiKey.created_at) < unused_since)
        )

    def expire(session: AsyncSession, api_key: ApiKey) -> None:
        last_used = api_key.last_used_at
        api_key.expires_at = now
        audit.record(
            session, tenant_id=api_key.tenant_id, action=Action.API_KEY_EXPIRED_UNUSED,
            actor=SYSTEM, target=audit_target(api_key),
            details={
                "expire_unused_after_days": days_of[api_key.tenant_id],
                "last_used_at": iso_utc(last_used) if last_used else None,
            },
        )  # fmt: skip

    return await sweep_keys(sessionmaker, cache, days_of, stale, expire, writer="unused key sweep")


class UnusedKeySweeper(Periodic):
    """Runs expire_unused_keys every hour while the app runs."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache: KeyCache) -> None:
        async def sweep() -> None:
            expired = await expire_unused_keys(sessionmaker, cache)
            if expired:
                logger.info("unused keys expired", extra={"expired_keys": expired})

        super().__init__(sweep, SWEEP_INTERVAL_SECONDS, "unused key sweep")
