"""What a key was rolled from and into, and a key read in any state (revoked ones
included), for pages that show a key's history. Changes go through service.py, which
never hands out a revoked key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth.models import ApiKey
from relay.db import tenant_select


@dataclass(frozen=True, slots=True)
class KeyRef:
    id: uuid.UUID
    key_prefix: str  # what tells a rolled key from its successor: both have one name


@dataclass(frozen=True, slots=True)
class Lineage:
    """The key this one was rolled from (its predecessor) and into (its successor)."""

    rolled_from: KeyRef | None = None
    rolled_into: KeyRef | None = None


async def find_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    """The tenant's key in any state, revoked included; None when unknown or another
    tenant's."""
    return await session.scalar(tenant_select(ApiKey, tenant_id).where(ApiKey.id == key_id))


async def lineages(
    session: AsyncSession, *, tenant_id: uuid.UUID, api_keys: Sequence[ApiKey]
) -> dict[uuid.UUID, Lineage]:
    """Each key's predecessor and successor, in one query (revoked ones named too)."""
    ids = [key.id for key in api_keys]
    successor_ids = [key.replaced_by_id for key in api_keys if key.replaced_by_id]
    if not ids:
        return {}
    rows = await session.execute(
        tenant_select(ApiKey, tenant_id)
        .with_only_columns(ApiKey.id, ApiKey.key_prefix, ApiKey.replaced_by_id)
        .where(or_(ApiKey.id.in_(successor_ids), ApiKey.replaced_by_id.in_(ids)))
    )
    prefixes: dict[uuid.UUID, str] = {}
    predecessors: dict[uuid.UUID, KeyRef] = {}
    for key_id, key_prefix, replaced_by_id in rows:
        prefixes[key_id] = key_prefix
        if replaced_by_id is not None:
            predecessors[replaced_by_id] = KeyRef(key_id, key_prefix)
    return {
        key.id: Lineage(
            rolled_from=predecessors.get(key.id),
            rolled_into=(
                KeyRef(key.replaced_by_id, prefixes[key.replaced_by_id])
                if key.replaced_by_id in prefixes
                else None
            ),
        )
        for key in api_keys
    }
