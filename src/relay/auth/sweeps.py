"""Sweeps that change keys (unused keys expired, quiet graces ended), one mechanism for
all: the keys due are found without a transaction (a sweep with nothing due locks
nothing), then each tenant's are locked in id order (two sweeps queue rather than
deadlock), checked again under the lock (two servers sweeping at once change a key
once), changed, announced to every worker (as a revocation is) and, once committed,
dropped from this worker's key cache. A key the database refuses to change is dropped
alone, counted and logged, and found again next time (relay.background.sweep_tenants).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.service import announce_change
from relay.background import sweep_tenants


async def sweep_keys(
    sessionmaker: async_sessionmaker[AsyncSession],
    cache: KeyCache,
    tenant_ids: Iterable[uuid.UUID],
    due: Callable[[uuid.UUID], Select[ApiKey]],
    change: Callable[[AsyncSession, ApiKey], None],
    *,
    writer: str,
) -> int:
    """`change` every key `due` selects, tenant after tenant; returns how many were."""

    async def find(session: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
        ids = due(tenant_id).with_only_columns(ApiKey.id).order_by(ApiKey.id)
        return list(await session.scalars(ids))

    async def act(
        session: AsyncSession, tenant_id: uuid.UUID, key_ids: Sequence[uuid.UUID]
    ) -> list[uuid.UUID]:
        locked = due(tenant_id).where(ApiKey.id.in_(key_ids)).order_by(ApiKey.id)
        keys = list((await session.scalars(locked.with_for_update())).all())
        for api_key in keys:
            change(session, api_key)
            await announce_change(session, api_key)
        return [api_key.family_id for api_key in keys]

    def forget(families: Sequence[uuid.UUID]) -> None:
        for family_id in families:  # committed: dropped here too (others hear it announced)
            cache.forget_family(family_id)

    families = await sweep_tenants(
        sessionmaker, tenant_ids, find, act, writer=writer,
        describe=lambda key_id: f"key {key_id}", committed=forget,
    )  # fmt: skip
    return len(families)
