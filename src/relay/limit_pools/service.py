"""Limit pool records: create, list, read, update and delete a tenant's pools, each
change audited in its transaction.

Who manages pools: a full-access key (the routes require it; so are owners and admins in
the dashboard, not developers) that has no limit of its own (no rate limit, quota or
pool). Changing a pool changes the
limits of every key in it, so a narrower key, or one held to limits, could otherwise
change them for keys broader than it or lift its own. Putting a key into a pool is kept
to full-access actors as well (auth/service.py), but a key in a pool makes keys in it.
A pool with live keys (neither revoked nor expired) cannot be deleted (409): deleting it
would lift their limits silently; move or revoke them first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import scopes
from relay.auth.models import ApiKey
from relay.auth.scopes import PermissionDenied
from relay.auth.service import announce
from relay.db import tenant_select, utcnow
from relay.errors import ConflictError, NotFoundError
from relay.limit_pools.models import LimitPool
from relay.limit_pools.schemas import LimitPoolCreate, LimitPoolUpdate
from relay.limits import quotas
from relay.pagination import Position, after

POOL_NOT_FOUND = "Limit pool not found"
LIMITED_MANAGER = (
    "Insufficient permissions: a key with limits of its own (a rate limit, a quota or a "
    "pool) cannot manage limit pools"
)


def _target(pool: LimitPool) -> audit.Target:
    return audit.Target("limit_pool", pool.id, pool.name)


def check_manager(actor: Actor) -> None:
    """403 unless `actor` may create, change or delete pools (see the module): a pool's
    limits bind every key in it, full-access ones included, so only those with full
    access manage pools (keys through requires(FULL_ACCESS); in the dashboard, the
    owners and admins, whose keys may have it, and not a developer)."""
    if not actor.full_access:
        raise scopes.insufficient(scopes.FULL_ACCESS)
    if actor.rate_limit is not None or actor.quota is not None or actor.pool_id is not None:
        raise PermissionDenied(LIMITED_MANAGER)


def _limits(pool: LimitPool) -> dict[str, object]:
    quota = (
        {"requests": pool.quota_requests, "period": pool.quota_period}
        if pool.quota_requests is not None
        else None
    )
    return {"rate_limit": pool.rate_limit, "quota": quota}


async def create_pool(
    session: AsyncSession, *, tenant_id: uuid.UUID, data: LimitPoolCreate, actor: Actor
) -> LimitPool:
    check_manager(actor)
    now = utcnow()
    pool = LimitPool(tenant_id=tenant_id, name=data.name, created_at=now, updated_at=now)
    _set_limits(pool, data, data.model_fields_set | {"rate_limit", "quota"})
    session.add(pool)
    audit.record(
        session, tenant_id=tenant_id, action=Action.LIMIT_POOL_CREATED, actor=actor,
        target=_target(pool), details=_limits(pool),
    )  # fmt: skip
    await session.flush()
    return pool


def _set_limits(pool: LimitPool, data: LimitPoolCreate | LimitPoolUpdate, sent: set[str]) -> None:
    if "rate_limit" in sent:
        limit = data.rate_limit
        pool.rate_limit_requests = limit.requests if limit else None
        pool.rate_limit_seconds = limit.per_seconds if limit else None
    if "quota" in sent:
        quota = data.quota
        pool.quota_requests = quota.requests if quota else None
        pool.quota_period = quota.period if quota else None


async def list_pools(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int, start_after: Position | None
) -> list[LimitPool]:
    """At most `limit` of the tenant's pools, newest first, after a cursor's position."""
    query = tenant_select(LimitPool, tenant_id).order_by(
        LimitPool.created_at.desc(), LimitPool.id.desc()
    )
    if start_after is not None:
        query = query.where(after(LimitPool.created_at, LimitPool.id, start_after))
    return list((await session.scalars(query.limit(limit))).all())


async def get_pool(
    session: AsyncSession, *, tenant_id: uuid.UUID, pool_id: uuid.UUID, for_update: bool = False
) -> LimitPool:
    """The tenant's pool; NotFoundError when unknown or another tenant's."""
    query = tenant_select(LimitPool, tenant_id).where(LimitPool.id == pool_id)
    pool = await session.scalar(query.with_for_update() if for_update else query)
    if pool is None:
        raise NotFoundError(POOL_NOT_FOUND)
    return pool


async def update_pool(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    pool_id: uuid.UUID,
    data: LimitPoolUpdate,
    actor: Actor,
) -> LimitPool:
    """Rename the pool or change its limits; every worker drops its keys from its cache
    when this commits (the caller commits through KeyVerifier.commit_tagged)."""
    check_manager(actor)
    pool = await get_pool(session, tenant_id=tenant_id, pool_id=pool_id, for_update=True)
    before = _limits(pool)
    sent = set(data.model_fields_set)
    changes: dict[str, object] = {}
    if "name" in sent and data.name is not None and data.name != pool.name:
        changes["name"] = pool.name = data.name
    _set_limits(pool, data, sent)
    after_change = _limits(pool)
    changes |= {name: value for name, value in after_change.items() if before[name] != value}
    if changes:
        pool.updated_at = utcnow()
        audit.record(
            session, tenant_id=tenant_id, action=Action.LIMIT_POOL_UPDATED, actor=actor,
            target=_target(pool), details=changes,
        )  # fmt: skip
        await session.flush()
        await announce(session, pool.id)
    return pool


async def delete_pool(
    session: AsyncSession, *, tenant_id: uuid.UUID, pool_id: uuid.UUID, actor: Actor
) -> None:
    """Delete an empty pool (its revoked and expired keys simply leave it);
    ConflictError while a live key is in it."""
    check_manager(actor)
    pool = await get_pool(session, tenant_id=tenant_id, pool_id=pool_id, for_update=True)
    live = (await key_counts(session, [pool.id])).get(pool.id, 0)
    if live:
        raise ConflictError(
            f"Limit pool has {live} key{'s' if live != 1 else ''}: move them to another "
            "pool or revoke them first"
        )
    audit.record(
        session, tenant_id=tenant_id, action=Action.LIMIT_POOL_DELETED, actor=actor,
        target=_target(pool),
    )  # fmt: skip
    await session.delete(pool)
    await session.flush()


async def key_counts(session: AsyncSession, pool_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{pool id: its live keys, neither revoked nor expired} (pools without any are
    left out)."""
    if not pool_ids:
        return {}
    rows = await session.execute(
        select(ApiKey.pool_id, func.count())
        .where(
            ApiKey.pool_id.in_(pool_ids),
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
        .group_by(ApiKey.pool_id)
    )
    return {pool_id: count for pool_id, count in rows.all() if pool_id is not None}


@dataclass(frozen=True, slots=True)
class PoolStatus:
    key_count: int
    # Of its quota, when it has one: what is left this period, and when it refills.
    quota_remaining: int | None
    quota_resets_at: datetime | None


async def status_of(
    session: AsyncSession, pools: Sequence[LimitPool]
) -> dict[uuid.UUID, PoolStatus]:
    """Each pool's live keys and quota left, for reads (two queries for any number)."""
    now = utcnow()
    counts = await key_counts(session, [pool.id for pool in pools])
    pool_quotas = {
        pool.id: quotas.Quota(pool.id, pool.quota_requests, period, pool=True)
        for pool in pools
        if pool.quota_requests is not None and (period := _period(pool.quota_period)) is not None
    }
    used = await quotas.used_now(session, list(pool_quotas.values()), now)
    statuses = {}
    for pool in pools:
        quota = pool_quotas.get(pool.id)
        statuses[pool.id] = PoolStatus(
            counts.get(pool.id, 0),
            None if quota is None else max(quota.requests - used.get(pool.id, 0), 0),
            None if quota is None else quotas.resets_at(quota.period, now),
        )
    return statuses


def _period(value: str | None) -> quotas.Period | None:
    return next((period for period in quotas.PERIODS if period == value), None)
