"""Turns the X-API-Key header into a Principal, or refuses it with the guide's messages.

Order of work per request: shape and checksum (no I/O), then the in-process cache,
then the database. Expiry is checked on every request, cached or not.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relay import metrics
from relay.auth import keys
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.principal import Principal
from relay.db import utcnow
from relay.errors import AuthenticationError

INVALID_KEY = "Invalid or missing API key"
EXPIRED_KEY = "API key expired"
# Names the scheme, so a client that gets a 401 knows which header to send.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'APIKey realm="relay", header="X-API-Key"'}


def invalid_key(reason: str = "invalid") -> AuthenticationError:
    """The guide's one answer for a missing, invalid or revoked key."""
    return AuthenticationError(INVALID_KEY, reason=reason, headers=WWW_AUTHENTICATE)


class ExpiredKey(AuthenticationError):
    """401 "API key expired"; `principal` says which key, for the audit log."""

    def __init__(self, principal: Principal) -> None:
        super().__init__(EXPIRED_KEY, reason="expired", headers=WWW_AUTHENTICATE)
        self.principal = principal


class KeyVerifier:
    """Checks presented keys and owns the cache of verified ones.

    `cache_trusted` is False while this process could miss a revocation made
    elsewhere (its notification channel is down): every key then goes to the
    database, and the cache is emptied before it is trusted again.
    """

    def __init__(self, engine: AsyncEngine, cache: KeyCache, *, trusted: bool) -> None:
        # One statement, no transaction: saves the BEGIN and ROLLBACK round trips.
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.cache = cache
        self.cache_trusted = trusted

    async def verify(self, presented: str | None) -> Principal:
        """The key's principal; AuthenticationError when it is missing, unknown,
        revoked or expired."""
        if not presented:
            raise invalid_key("missing")
        # A bad checksum is refused here, before any hashing or database work.
        if not keys.is_well_formed(presented):
            raise invalid_key()
        key_hash = keys.hash_key(presented)
        # A cache hit stays synchronous: no await on the path most requests take.
        principal = self.cache.get(key_hash) if self.cache_trusted else None
        if principal is None:
            metrics.KEY_CACHE.labels("miss").inc()
            principal = await self._on_cache_miss(key_hash)
        else:
            metrics.KEY_CACHE.labels("hit").inc()
        if principal.is_expired(utcnow()):
            raise ExpiredKey(principal)
        return principal

    async def _on_cache_miss(self, key_hash: str) -> Principal:
        """The principal from the database; AuthenticationError when unknown or revoked."""
        refusal = self.cache.refusal(key_hash) if self.cache_trusted else None
        if refusal is not None:
            raise invalid_key(refusal)
        generation = self.cache.generation
        principal, refusal = await self._load(key_hash)
        if self.cache_trusted:
            self.cache.put(key_hash, principal, generation=generation, refusal=refusal)
        if principal is None:
            raise invalid_key(refusal)
        return principal

    def mark_untrusted(self) -> None:
        self.cache_trusted = False

    def mark_trusted(self) -> None:
        """The channel is back: drop everything cached (it may have missed revocations)."""
        self.cache.clear()
        self.cache_trusted = True

    async def commit_change(self, session: AsyncSession, api_key: ApiKey) -> None:
        """Commit a change to a key (revoked, rotated, limited) and drop it here before
        the caller answers: the next request in this process sees the change. Other
        processes hear of it through the database's notification (revocations.py)."""
        await session.commit()
        self.cache.forget(api_key.key_hash)

    async def _load(self, key_hash: str) -> tuple[Principal | None, str]:
        """(principal, "") for a live key; (None, "invalid" or "revoked") otherwise."""
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        ApiKey.tenant_id,
                        ApiKey.id,
                        ApiKey.key_prefix,
                        ApiKey.scopes,
                        ApiKey.expires_at,
                        ApiKey.revoked_at,
                        ApiKey.rate_limit_requests,
                        ApiKey.rate_limit_seconds,
                    ).where(ApiKey.key_hash == key_hash)
                )
            ).one_or_none()
        if row is None:
            return None, "invalid"
        if row.revoked_at is not None:
            return None, "revoked"
        return Principal(
            tenant_id=row.tenant_id,
            key_id=row.id,
            key_prefix=row.key_prefix,
            scopes=tuple(row.scopes),
            expires_at=row.expires_at,
            rate_limit=(
                (row.rate_limit_requests, row.rate_limit_seconds)
                if row.rate_limit_requests is not None and row.rate_limit_seconds is not None
                else None
            ),
        ), ""
