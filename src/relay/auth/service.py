"""API key records: create, list and revoke, always inside one tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth import keys
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.db import tenant_select, utcnow
from relay.errors import NotFoundError

API_KEY_NOT_FOUND = "API key not found"
REVOCATION_CHANNEL = "relay_key_revocations"


async def create_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, data: ApiKeyCreate, created_by: str | None
) -> tuple[ApiKey, str]:
    """A new key for the tenant. Returns the record and the full key, which is
    not stored and must be shown to the caller once."""
    full_key = keys.generate_key()
    api_key = ApiKey(
        tenant_id=tenant_id,
        name=data.name,
        key_prefix=keys.display_prefix(full_key),
        key_hash=keys.hash_key(full_key),
        scopes=list(data.scopes),
        created_at=utcnow(),
        expires_at=data.expires_at,
        created_by=created_by,
    )
    session.add(api_key)
    await session.flush()
    return api_key, full_key


async def list_api_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ApiKey]:
    """The tenant's keys that are not revoked (expired ones included), newest first."""
    query = (
        tenant_select(ApiKey, tenant_id)
        .where(ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return list((await session.scalars(query)).all())


async def revoke_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey:
    """Revoke a key for good. Unknown, another tenant's or already revoked: NotFoundError."""
    query = tenant_select(ApiKey, tenant_id).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    api_key = await session.scalar(query.with_for_update())
    if api_key is None:
        raise NotFoundError(API_KEY_NOT_FOUND)
    api_key.revoked_at = utcnow()
    await session.flush()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # Delivered to every listening process when this transaction commits.
        await session.execute(select(func.pg_notify(REVOCATION_CHANNEL, api_key.key_hash)))
    return api_key
