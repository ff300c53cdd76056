"""Turns the X-API-Key header into a Principal, or refuses it with the guide's messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.auth import keys
from relay.auth.models import ApiKey
from relay.db import utcnow
from relay.errors import AuthenticationError

INVALID_KEY = "Invalid or missing API key"
EXPIRED_KEY = "API key expired"
# Names the scheme, so a client that gets a 401 knows which header to send.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'APIKey realm="relay", header="X-API-Key"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key of one tenant. Everything it reaches is scoped to `tenant_id`."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: tuple[str, ...]
    expires_at: datetime | None


def invalid_key() -> AuthenticationError:
    return AuthenticationError(INVALID_KEY, headers=WWW_AUTHENTICATE)


def expired_key() -> AuthenticationError:
    return AuthenticationError(EXPIRED_KEY, headers=WWW_AUTHENTICATE)


class KeyVerifier:
    """Checks presented keys: format and checksum first, then the stored digest."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def verify(self, presented: str | None) -> Principal:
        """The key's principal; AuthenticationError when it is missing, unknown,
        revoked or expired."""
        # A bad checksum is refused here, before any hashing or database work.
        if not presented or not keys.is_well_formed(presented):
            raise invalid_key()
        principal = await self._load(keys.hash_key(presented))
        if principal is None:
            raise invalid_key()
        if principal.expires_at is not None and utcnow() >= principal.expires_at:
            raise expired_key()
        return principal

    async def _load(self, key_hash: str) -> Principal | None:
        async with self._sessionmaker() as session:
            row = (
                await session.execute(
                    select(
                        ApiKey.tenant_id,
                        ApiKey.id,
                        ApiKey.key_prefix,
                        ApiKey.scopes,
                        ApiKey.expires_at,
                    ).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
                )
            ).one_or_none()
        if row is None:
            return None
        return Principal(
            tenant_id=row.tenant_id,
            key_id=row.id,
            key_prefix=row.key_prefix,
            scopes=tuple(row.scopes),
            expires_at=row.expires_at,
        )
