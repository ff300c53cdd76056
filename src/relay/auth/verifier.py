"""Turns the X-API-Key header into a Principal, or refuses it with the guide's messages.

Order of work per request: shape and checksum (no I/O), then the in-process cache,
then the database. Expiry is checked on every request, cached or not.

This is the one place a key's lineage is resolved: the principal carries the rate
limit windows of its family and of every family that made it (from their rows as they
are now), so limits are computed over the lineage once per load, never per request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from relay import metrics
from relay.auth import keys, restrictions
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.principal import Principal
from relay.db import utcnow
from relay.errors import AuthenticationError
from relay.limit_pools.models import LimitPool
from relay.limits.policy import family_window, pool_window
from relay.limits.quotas import PERIODS, Period, Quota
from relay.limits.windows import Window

_pool = aliased(LimitPool)

INVALID_KEY = "Invalid or missing API key"
EXPIRED_KEY = "API key expired"
DISABLED_KEY = "API key disabled"
# Names the scheme, so a client that gets a 401 knows which header to send.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'APIKey realm="relay", header="X-API-Key"'}


def invalid_key(reason: str = "invalid") -> AuthenticationError:
    """The guide's one answer for a missing, invalid or revoked key."""
    return AuthenticationError(INVALID_KEY, reason=reason, headers=WWW_AUTHENTICATE)


class ExpiredKey(AuthenticationError):
    """401 "API key expired"; `principal` says which key, for the audit log."""

    code = "api_key_expired"

    def __init__(self, principal: Principal) -> None:
        super().__init__(EXPIRED_KEY, reason="expired", headers=WWW_AUTHENTICATE)
        self.principal = principal


class DisabledKey(AuthenticationError):
    """401 "API key disabled": suspended until someone resumes it."""

    code = "api_key_disabled"

    def __init__(self) -> None:
        super().__init__(DISABLED_KEY, reason="disabled", headers=WWW_AUTHENTICATE)


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
        revoked, expired or disabled."""
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
        if principal.disabled:
            raise DisabledKey
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
        """Commit a change to a key (revoked, rotated, limited) and drop its family, and
        every key that family made, here before the caller answers: the next request in
        this process sees the change. Other processes hear of it through the database's
        notification (revocations.py)."""
        await self.commit_tagged(session, api_key.family_id)

    async def commit_tagged(self, session: AsyncSession, tag: uuid.UUID) -> None:
        """Commit a change to what is cached under `tag` (a family, a limit pool) and
        drop it here, before the caller answers."""
        await session.commit()
        self.cache.forget_family(tag)

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
                        ApiKey.family_id,
                        ApiKey.made_by_id,
                        ApiKey.replaced_by_id,
                        ApiKey.disabled_at,
                        ApiKey.dataset_ids,
                        ApiKey.allowed_ips,
                        ApiKey.quota_requests,
                        ApiKey.quota_period,
                        ApiKey.pool_id,
                        _pool.rate_limit_requests.label("pool_rate_limit_requests"),
                        _pool.rate_limit_seconds.label("pool_rate_limit_seconds"),
                        _pool.quota_requests.label("pool_quota_requests"),
                        _pool.quota_period.label("pool_quota_period"),
                    )
                    .outerjoin(
                        _pool, (_pool.id == ApiKey.pool_id) & (_pool.tenant_id == ApiKey.tenant_id)
                    )
                    .where(ApiKey.key_hash == key_hash)
                )
            ).one_or_none()
            if row is None:
                return None, "invalid"
            if row.revoked_at is not None:
                return None, "revoked"
            # A key never rotated nor made by a key is a family of one: no second query.
            alone = (row.family_id, row.made_by_id, row.replaced_by_id) == (row.id, None, None)
            makers = (
                {}
                if alone
                else await _makers(
                    connection, row.tenant_id, key_id=row.id, family_id=row.family_id
                )
            )
        own_limit = _limit(row)
        windows = [family_window(row.family_id, *own_limit)] if own_limit else []
        windows += [
            family_window(family, *maker.limit) for family, maker in makers.items() if maker.limit
        ]
        own_quota = _quota(row)
        quotas = [Quota(row.family_id, *own_quota)] if own_quota else []
        quotas += [Quota(family, *maker.quota) for family, maker in makers.items() if maker.quota]
        if row.pool_id is not None:  # the pool's limits bind every key in it as well
            windows, quotas = _with_pool(row, windows, quotas)
        return Principal(
            tenant_id=row.tenant_id,
            key_id=row.id,
            key_prefix=row.key_prefix,
            scopes=tuple(row.scopes),
            expires_at=row.expires_at,
            rate_limit=own_limit,
            families=(row.family_id, *makers),
            limit_windows=tuple(windows),
            disabled=row.disabled_at is not None,
            dataset_ids=restrictions.dataset_ids_of(row.dataset_ids),
            allowed_networks=restrictions.networks_of(row.allowed_ips),
            quotas=tuple(quotas),
            own_quota=own_quota,
            pool_id=row.pool_id,
        ), ""


def _with_pool(
    row: Any, windows: list[Window], quotas: list[Quota]
) -> tuple[list[Window], list[Quota]]:
    """The key's windows and quotas with its pool's (read with the key, by their
    pool_ names), last."""
    limit = (row.pool_rate_limit_requests, row.pool_rate_limit_seconds)
    if None not in limit:
        windows = [*windows, pool_window(row.pool_id, *limit)]
    if row.pool_quota_requests is not None and row.pool_quota_period in PERIODS:
        period: Period = row.pool_quota_period
        quotas = [*quotas, Quota(row.pool_id, row.pool_quota_requests, period, pool=True)]
    return windows, quotas


def _limit(row: Any) -> tuple[int, int] | None:
    """A row's (requests, per seconds), or None when it has no rate limit."""
    if row.rate_limit_requests is None or row.rate_limit_seconds is None:
        return None
    return row.rate_limit_requests, row.rate_limit_seconds


def _quota(row: Any) -> tuple[int, Period] | None:
    """A row's (requests, period), or None when it has no quota."""
    if row.quota_requests is None or row.quota_period not in PERIODS:
        return None
    period: Period = row.quota_period
    return row.quota_requests, period


@dataclass(frozen=True, slots=True)
class _Maker:
    """A family that made the key's, with its limits now."""

    limit: tuple[int, int] | None
    quota: tuple[int, Period] | None


async def _makers(
    connection: AsyncConnection, tenant_id: uuid.UUID, *, key_id: uuid.UUID, family_id: uuid.UUID
) -> dict[uuid.UUID, _Maker]:
    """The families that made the family, directly or through others (whichever key of
    a family made a key of the other, by creating or rotating it), each with its rate
    limit and quota now: its newest key's. Revoked and expired makers count too: retiring a key
    must not lift the limit it put on the keys it made. Ordered by id, for stable
    answers; the family itself is left out."""
    member, maker = aliased(ApiKey), aliased(ApiKey)
    lineage = select(ApiKey.family_id).where(ApiKey.id == key_id).cte(recursive=True)
    # UNION, not UNION ALL: a family met twice (keys that made each other's) ends the walk.
    lineage = lineage.union(
        select(maker.family_id)
        .select_from(member)
        .join(lineage, member.family_id == lineage.c.family_id)
        .join(maker, maker.id == member.made_by_id)
        .where(member.tenant_id == tenant_id, maker.tenant_id == tenant_id)
    )
    newest = (
        select(
            ApiKey.family_id,
            ApiKey.rate_limit_requests,
            ApiKey.rate_limit_seconds,
            ApiKey.quota_requests,
            ApiKey.quota_period,
        )
        .join(lineage, ApiKey.family_id == lineage.c.family_id)
        .where(
            ApiKey.tenant_id == tenant_id,
            ApiKey.replaced_by_id.is_(None),
            ApiKey.family_id != family_id,
        )
        .order_by(ApiKey.family_id)
    )
    rows = (await connection.execute(newest)).all()
    return {row.family_id: _Maker(_limit(row), _quota(row)) for row in rows}
