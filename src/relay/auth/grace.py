"""The end of a rotation's grace, sooner than its bound: by hand ("End grace now" on the
old key's page), or once the old key has gone quiet (rotated with
`"grace_period_seconds": "until_quiet"`: QUIET_AFTER without a request, within the
7 days a grace may last at most), by a sweep every minute in each process."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import SYSTEM, Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import service as auth_service
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.sweeps import sweep_keys
from relay.background import Periodic, reading
from relay.db import utcnow
from relay.errors import ConflictError
from relay.schemas import iso_utc

logger = logging.getLogger(__name__)

QUIET_AFTER = timedelta(minutes=15)
SWEEP_INTERVAL_SECONDS = 60.0
NOT_IN_GRACE = "API key is not in a rotation's grace: only a rolled key that still works has one"


def _in_grace(api_key: ApiKey, now: datetime) -> bool:
    return api_key.replaced_by_id is not None and (
        api_key.expires_at is None or api_key.expires_at > now
    )


def _end(session: AsyncSession, api_key: ApiKey, actor: Actor, now: datetime, why: str) -> None:
    last_used = api_key.last_used_at
    api_key.expires_at, api_key.grace_until_quiet = now, False
    audit.record(
        session, tenant_id=api_key.tenant_id, action=Action.API_KEY_GRACE_ENDED, actor=actor,
        target=auth_service.audit_target(api_key),
        details={"reason": why, "last_used_at": iso_utc(last_used) if last_used else None},
    )  # fmt: skip


async def end_grace(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, actor: Actor
) -> ApiKey:
    """End a rolled key's grace now: it is refused from its next request, on every
    worker (audited as api_key.grace_ended). ConflictError when it has none left."""
    api_key = await auth_service.get_api_key(
        session, tenant_id=tenant_id, key_id=key_id, for_update=True
    )
    now = utcnow()
    if not _in_grace(api_key, now):
        raise ConflictError(NOT_IN_GRACE)
    auth_service.check_key_within(actor, api_key)
    _end(session, api_key, actor, now, "ended")
    await session.flush()
    await auth_service.announce_change(session, api_key)
    return api_key


async def end_quiet_graces(
    sessionmaker: async_sessionmaker[AsyncSession], cache: KeyCache, *, now: datetime | None = None
) -> int:
    """End the grace of every rolled key asked to go when quiet that has had no request
    for QUIET_AFTER (counted from its rotation, when never used since); returns how
    many. One transaction per tenant (relay.auth.sweeps: a key whose grace cannot be
    ended is dropped alone, the others' end)."""
    now = now or utcnow()
    quiet_since = now - QUIET_AFTER
    async with reading(sessionmaker) as session:
        tenants = list(
            await session.scalars(
                select(ApiKey.tenant_id)
                .where(ApiKey.grace_until_quiet.is_(True), ApiKey.revoked_at.is_(None))
                .where(ApiKey.expires_at > now)
                .distinct()
            )
        )

    def quiet(tenant_id: uuid.UUID) -> Select[ApiKey]:
        return (
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.grace_until_quiet.is_(True))
            .where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now)
            .where(ApiKey.rotated_at <= quiet_since)
            .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= quiet_since))
        )

    def end(session: AsyncSession, api_key: ApiKey) -> None:
        _end(session, api_key, SYSTEM, now, "quiet")

    return await sweep_keys(sessionmaker, cache, tenants, quiet, end, writer="quiet grace sweep")


class QuietGraceSweeper(Periodic):
    """Runs end_quiet_graces every minute while the app runs."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cache: KeyCache) -> None:
        async def sweep() -> None:
            ended = await end_quiet_graces(sessionmaker, cache)
            if ended:
                logger.info("quiet rotations ended", extra={"ended_graces": ended})

        super().__init__(sweep, SWEEP_INTERVAL_SECONDS, "quiet grace sweep")
