"""API key records: create, list, read, update, rotate and revoke, always inside one
tenant, each with its audit event in the same transaction.

A key acting through the API never makes, rotates, changes or revokes a key broader
than itself (a scope it lacks, a rate limit or quota laxer than its own, a dataset or a
network outside its own, a pool other than its own: 403), and never makes a key that
outlives it. A key it makes without a rate limit, quota, datasets, networks or pool
gets its own.

Keys form families: a rotated key's successor joins its family, which shares one rate
limit, one quota and one limit pool (setting one on one key sets it on all) and one
window; a key made by a key (created or rotated through the API) records its maker,
whose family's limits bind it too (the verifier resolves that lineage when it builds
the principal).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import keys, restrictions, scopes
from relay.auth.models import ApiKey
from relay.auth.schemas import (
    MAX_GRACE_PERIOD_SECONDS,
    ApiKeyCreate,
    ApiKeyUpdate,
    Quota,
    RateLimit,
)
from relay.datasets.models import Dataset
from relay.db import tenant_select, utcnow
from relay.errors import ConflictError, InvalidInput, NotFoundError
from relay.key_policy import service as key_policy
from relay.limit_pools.models import LimitPool
from relay.limits import quotas
from relay.pagination import Position, after
from relay.schemas import iso_utc

API_KEY_NOT_FOUND = "API key not found"
POOL_JOIN_REFUSED = (
    "Insufficient permissions: only a full-access key puts a key into a limit pool "
    "other than its own (the keys in a pool share its quota)"
)
# Heard by every worker and server on the database, with a key family's id: drop every
# key whose lineage includes it from your cache (a key of it revoked, rotated, or the
# family's rate limit changed). The name predates the other uses.
REVOCATION_CHANNEL = "relay_key_revocations"
# How `created_by` names a key that made a key ("api_key:<uuid>").
KEY_MAKER = "api_key:"


def audit_target(api_key: ApiKey) -> audit.Target:
    return audit.Target("api_key", api_key.id, f"{api_key.name} ({api_key.key_prefix}…)")


def _check_within(
    actor: Actor,
    key_scopes: Sequence[str],
    rate_limit: tuple[int, int] | None,
    dataset_ids: restrictions.DatasetIds | None = None,
    networks: restrictions.Networks | None = None,
    quota: tuple[int, quotas.Period] | None = None,
    pool_id: uuid.UUID | None = None,
) -> None:
    """403 when the key would grant something the acting key (or member) lacks: a scope
    (full access included), more requests than the acting key's own limit or quota
    allows, a dataset or a network outside the acting key's, or a pool other than the
    acting key's."""
    beyond = scopes.effective(key_scopes) - scopes.effective(actor.scopes)
    if beyond:
        raise scopes.insufficient(", ".join(sorted(beyond)))
    if not key_scopes and actor.scopes:
        # Full access is more than every scope by name: the routes that need it (the key
        # policy, limit pools) are closed to a key listing them all.
        raise scopes.insufficient(scopes.FULL_ACCESS)
    if actor.rate_limit is not None and not _no_laxer(rate_limit, actor.rate_limit):
        requests, seconds = actor.rate_limit
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key cannot make or manage a key with a higher rate "
            f"limit than its own ({requests} requests per {seconds} seconds)"
        )
    if not restrictions.datasets_within(dataset_ids, actor.dataset_ids):
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key limited to specific datasets cannot make or "
            "manage a key that reaches others"
        )
    if not restrictions.networks_within(networks, actor.allowed_networks):
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key limited to some addresses cannot make or "
            "manage a key usable from others"
        )
    if actor.quota is not None and not quotas.no_larger(quota, _period_quota(actor.quota)):
        requests, period = actor.quota
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key cannot make or manage a key with a larger "
            f"quota than its own ({requests} requests per {period})"
        )
    if actor.pool_id is not None and pool_id != actor.pool_id:
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key in a limit pool cannot make or manage a key outside it"
        )


def _period_quota(quota: tuple[int, str]) -> tuple[int, quotas.Period]:
    requests, period = quota
    return requests, next(known for known in quotas.PERIODS if known == period)


def _quota_of(quota: Quota | None) -> tuple[int, quotas.Period] | None:
    return (quota.requests, quota.period) if quota else None


def _quota_of_key(api_key: ApiKey) -> tuple[int, quotas.Period] | None:
    if api_key.quota_requests is None or api_key.quota_period is None:
        return None
    return _period_quota((api_key.quota_requests, api_key.quota_period))


def check_key_within(actor: Actor, api_key: ApiKey) -> None:
    """403 unless `actor` may manage `api_key` (see _check_within)."""
    _check_within(
        actor,
        api_key.scopes,
        _limit_of_key(api_key),
        restrictions.dataset_ids_of(api_key.dataset_ids),
        restrictions.networks_of(api_key.allowed_ips),
        _quota_of_key(api_key),
        api_key.pool_id,
    )


async def _known_datasets(
    session: AsyncSession, tenant_id: uuid.UUID, dataset_ids: Sequence[uuid.UUID]
) -> list[str]:
    """`dataset_ids` as stored, once each is known to be one of the tenant's datasets
    (422 naming those that are not: a typo must not make a key that reaches nothing)."""
    found = set(
        await session.scalars(
            tenant_select(Dataset, tenant_id)
            .where(Dataset.id.in_(dataset_ids))
            .with_only_columns(Dataset.id)
        )
    )
    unknown = [str(dataset_id) for dataset_id in dataset_ids if dataset_id not in found]
    if unknown:
        raise InvalidInput(
            f"No such dataset in this tenant: {', '.join(unknown[:5])}",
            loc=("body", "dataset_ids"),
        )
    return [str(dataset_id) for dataset_id in dataset_ids]


async def _known_pool(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, pool_id: uuid.UUID | None
) -> uuid.UUID | None:
    """`pool_id` once it is known to be one of the tenant's pools (422 otherwise) that
    `actor` may put keys into: its own, or any for a full-access actor (403 otherwise:
    a key joining a pool spends the quota every key in it shares). The pool stays
    locked against deletion until the transaction ends (delete_pool counts its keys
    after it, so a key never joins a pool being deleted)."""
    if pool_id is None:
        return None
    found = await session.scalar(
        tenant_select(LimitPool, tenant_id)
        .where(LimitPool.id == pool_id)
        .with_only_columns(LimitPool.id)
        .with_for_update(read=True)
    )
    if found is None:
        raise InvalidInput(f"No such limit pool in this tenant: {pool_id}", loc=("body", "pool_id"))
    if pool_id != actor.pool_id and not actor.full_access:
        raise scopes.PermissionDenied(POOL_JOIN_REFUSED)
    return pool_id


def _stored_ids(ids: restrictions.DatasetIds | None) -> list[str] | None:
    return None if ids is None else sorted(str(dataset_id) for dataset_id in ids)


def _stored_networks(networks: restrictions.Networks | None) -> list[str] | None:
    return None if networks is None else [str(network) for network in networks]


def _no_laxer(limit: tuple[int, int] | None, bound: tuple[int, int]) -> bool:
    """Whether `limit` lets through no more than `bound` in any window of the bound's
    length: a window of S seconds holds at most ceil(S / s) of the limit's windows of s
    seconds, each with its r requests. No limit is laxer than any."""
    if limit is None:
        return False
    requests, seconds = limit
    bound_requests, bound_seconds = bound
    return requests * math.ceil(bound_seconds / seconds) <= bound_requests


def _limit_of(rate_limit: RateLimit | None) -> tuple[int, int] | None:
    return (rate_limit.requests, rate_limit.per_seconds) if rate_limit else None


def _limit_of_key(api_key: ApiKey) -> tuple[int, int] | None:
    if api_key.rate_limit_requests is None or api_key.rate_limit_seconds is None:
        return None
    return api_key.rate_limit_requests, api_key.rate_limit_seconds


def _lifetime_within(actor: Actor, expires_at: datetime | None) -> datetime | None:
    """The expiry a new key gets: the one asked for, never later than the acting key's."""
    if actor.expires_at is None:
        return expires_at
    if expires_at is None:
        return actor.expires_at
    if expires_at > actor.expires_at:
        raise scopes.PermissionDenied(
            "Insufficient permissions: a key cannot expire after the key that makes it "
            f"({iso_utc(actor.expires_at)})"
        )
    return expires_at


def _maker_key_id(created_by: str | None) -> uuid.UUID | None:
    """The key that makes a key, read from `created_by`: None for users and Relay."""
    if created_by is None or not created_by.startswith(KEY_MAKER):
        return None
    return uuid.UUID(created_by.removeprefix(KEY_MAKER))


def _new_key(
    tenant_id: uuid.UUID,
    *,
    name: str,
    key_scopes: Sequence[str],
    expires_at: datetime | None,
    rate_limit: RateLimit | None,
    created_by: str | None,
    family_id: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """A key of `family_id` (a rotation), or the first of a family of its own. Its
    maker is taken from `created_by`, so that no caller can leave it out of the key's
    lineage."""
    full_key = keys.generate_key()
    key_id = uuid.uuid4()
    api_key = ApiKey(
        id=key_id,
        family_id=family_id or key_id,
        made_by_id=_maker_key_id(created_by),
        tenant_id=tenant_id,
        name=name,
        key_prefix=keys.display_prefix(full_key),
        key_hash=keys.hash_key(full_key),
        scopes=list(key_scopes),
        created_at=utcnow(),
        expires_at=expires_at,
        created_by=created_by,
        rate_limit_requests=rate_limit.requests if rate_limit else None,
        rate_limit_seconds=rate_limit.per_seconds if rate_limit else None,
    )
    return api_key, full_key


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    data: ApiKeyCreate,
    actor: Actor,
    created_by: str | None,
) -> tuple[ApiKey, str]:
    """A new key for the tenant. Returns the record and the full key, which is
    not stored and must be shown to the caller once."""
    rate_limit = data.rate_limit
    if rate_limit is None and actor.rate_limit is not None:  # inherits the maker's, as expiry
        rate_limit = RateLimit(requests=actor.rate_limit[0], per_seconds=actor.rate_limit[1])
    # So do datasets and networks: a key limited so makes keys limited so.
    dataset_ids = (
        await _known_datasets(session, tenant_id, data.dataset_ids)
        if data.dataset_ids is not None
        else _stored_ids(actor.dataset_ids)
    )
    allowed_ips = (
        data.allowed_ips
        if data.allowed_ips is not None
        else _stored_networks(actor.allowed_networks)
    )
    quota = _quota_of(data.quota) or (_period_quota(actor.quota) if actor.quota else None)
    # And a key in a pool makes keys in its pool.
    pool_id = await _known_pool(session, actor, tenant_id, data.pool_id) or actor.pool_id
    _check_within(
        actor,
        data.scopes,
        _limit_of(rate_limit),
        restrictions.dataset_ids_of(dataset_ids),
        restrictions.networks_of(allowed_ips),
        quota,
        pool_id,
    )
    policy = await key_policy.rules_of(session, tenant_id)
    policy.check_full_access(actor, data.scopes, dataset_ids)  # as made: inherited too
    expires_at = policy.lifetime(
        _lifetime_within(actor, data.expires_at), asked=data.expires_at is not None, now=utcnow()
    )
    api_key, full_key = _new_key(
        tenant_id,
        name=data.name,
        key_scopes=data.scopes,
        expires_at=expires_at,
        rate_limit=rate_limit,
        created_by=created_by,
    )
    api_key.dataset_ids, api_key.allowed_ips = dataset_ids, allowed_ips
    api_key.quota_requests, api_key.quota_period = quota or (None, None)
    api_key.pool_id = pool_id
    session.add(api_key)
    audit.record(
        session, tenant_id=tenant_id, action=Action.API_KEY_CREATED, actor=actor,
        target=audit_target(api_key), details={"scopes": list(data.scopes)},
    )  # fmt: skip
    await session.flush()
    return api_key, full_key


def _live_keys(tenant_id: uuid.UUID) -> Select[ApiKey]:
    return tenant_select(ApiKey, tenant_id).where(ApiKey.revoked_at.is_(None))


# Which keys a list holds: those not revoked (expired included: what the API lists),
# those neither revoked nor expired, or every key the tenant ever had.
KeyListing = Literal["live", "active", "all"]


async def list_api_keys(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    limit: int | None = None,
    start_after: Position | None = None,
    listing: KeyListing = "live",
) -> list[ApiKey]:
    """The tenant's keys `listing` names, newest first; at most `limit`, after the
    position a cursor named."""
    query = _live_keys(tenant_id) if listing != "all" else tenant_select(ApiKey, tenant_id)
    if listing == "active":
        query = query.where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()))
    query = query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if start_after is not None:
        query = query.where(after(ApiKey.created_at, ApiKey.id, start_after))
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def get_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, for_update: bool = False
) -> ApiKey:
    """The tenant's key; NotFoundError when unknown, another tenant's or revoked."""
    query = _live_keys(tenant_id).where(ApiKey.id == key_id)
    api_key = await session.scalar(query.with_for_update() if for_update else query)
    if api_key is None:
        raise NotFoundError(API_KEY_NOT_FOUND)
    return api_key


async def _lock_family_of(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> tuple[ApiKey, list[ApiKey]]:
    """The tenant's live key and every key of its family, locked in one order (by id):
    two changes to keys of one family wait for each other instead of deadlocking.
    NotFoundError when the key is unknown, another tenant's or revoked."""
    family_of_key = tenant_select(ApiKey, tenant_id).where(ApiKey.id == key_id)
    family_id = await session.scalar(family_of_key.with_only_columns(ApiKey.family_id))
    family = list(
        await session.scalars(
            tenant_select(ApiKey, tenant_id)
            .where(ApiKey.family_id == family_id)
            .order_by(ApiKey.id)
            .with_for_update()
            # Read again once locked: a revoke committed meanwhile must be seen.
            .execution_options(populate_existing=True)
        )
    )
    api_key = next((key for key in family if key.id == key_id and key.revoked_at is None), None)
    if api_key is None:
        raise NotFoundError(API_KEY_NOT_FOUND)
    return api_key, family


async def announce_change(session: AsyncSession, api_key: ApiKey) -> None:
    """Tell every process caching the key, a key of its family or a key its family made
    to drop them (on PostgreSQL, delivered when the transaction commits; on SQLite the
    one process drops them itself)."""
    await announce(session, api_key.family_id)


async def announce(session: AsyncSession, tag: uuid.UUID) -> None:
    """Tell every process to drop the keys cached under `tag` (Principal.cache_tags: a
    key family's id, or a limit pool's), when the transaction commits."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(REVOCATION_CHANNEL, str(tag))))


async def revoke_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, actor: Actor
) -> ApiKey:
    """Revoke a key for good. Unknown, another tenant's or already revoked: NotFoundError."""
    api_key = await get_api_key(session, tenant_id=tenant_id, key_id=key_id, for_update=True)
    check_key_within(actor, api_key)
    api_key.revoked_at, api_key.revoked_by = utcnow(), actor.label
    audit.record(
        session, tenant_id=tenant_id, action=Action.API_KEY_REVOKED, actor=actor,
        target=audit_target(api_key),
    )  # fmt: skip
    await session.flush()
    await announce_change(session, api_key)
    return api_key


async def update_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    data: ApiKeyUpdate,
    actor: Actor,
) -> ApiKey:
    """Rename a key, set or remove its rate limit, suspend or resume it (only the fields
    sent). A rate limit is its family's: every key of the family gets it. Suspending
    is the key's alone, audited apart (api_key.disabled / api_key.enabled)."""
    api_key, family = await _lock_family_of(session, tenant_id=tenant_id, key_id=key_id)
    check_key_within(actor, api_key)
    changes: dict[str, object] = {}
    if "name" in data.model_fields_set and data.name is not None:
        changes["name"] = api_key.name = data.name
    if "rate_limit" in data.model_fields_set:
        limit = data.rate_limit
        _check_within(actor, api_key.scopes, _limit_of(limit))
        # The family shares one window, so one limit: a predecessor in its grace period
        # keeps counting at the rate its successor is now allowed, and no faster.
        for member in family:
            member.rate_limit_requests = limit.requests if limit else None
            member.rate_limit_seconds = limit.per_seconds if limit else None
        changes["rate_limit"] = api_key.rate_limit
    if "dataset_ids" in data.model_fields_set:
        ids = data.dataset_ids
        if ids is None and api_key.dataset_ids is not None:  # every dataset: full access?
            policy = await key_policy.rules_of(session, tenant_id)
            policy.check_full_access(actor, api_key.scopes, None)
        api_key.dataset_ids = (
            None if ids is None else await _known_datasets(session, tenant_id, ids)
        )
        changes["dataset_ids"] = api_key.dataset_ids
    if "allowed_ips" in data.model_fields_set:
        changes["allowed_ips"] = api_key.allowed_ips = data.allowed_ips
    if "quota" in data.model_fields_set:
        # One count per family (quotas.py), so one quota: every key of it gets it.
        new_quota = _quota_of(data.quota)
        for member in family:
            member.quota_requests, member.quota_period = new_quota or (None, None)
        changes["quota"] = data.quota.model_dump() if data.quota else None
    if "pool_id" in data.model_fields_set:
        # A family counts as one key: all of it moves (a successor joins its pool too).
        pool_id = data.pool_id
        if pool_id != api_key.pool_id:
            pool_id = await _known_pool(session, actor, tenant_id, pool_id)
        for member in family:
            member.pool_id = pool_id
        changes["pool_id"] = str(pool_id) if pool_id else None
    check_key_within(actor, api_key)  # as changed: still no broader than the actor
    suspended = _suspend(session, api_key, data, actor)
    if changes:
        audit.record(
            session, tenant_id=tenant_id, action=Action.API_KEY_UPDATED, actor=actor,
            target=audit_target(api_key), details=changes,
        )  # fmt: skip
    if changes or suspended:
        await session.flush()
        await announce_change(session, api_key)
    return api_key


def _suspend(session: AsyncSession, api_key: ApiKey, data: ApiKeyUpdate, actor: Actor) -> bool:
    """Suspend or resume the key as `data` asks; True when that changed it."""
    if "disabled" not in data.model_fields_set or data.disabled is None:
        return False
    if data.disabled == api_key.disabled:
        return False
    api_key.disabled_at = utcnow() if data.disabled else None
    action = Action.API_KEY_DISABLED if data.disabled else Action.API_KEY_ENABLED
    audit.record(
        session, tenant_id=api_key.tenant_id, action=action, actor=actor,
        target=audit_target(api_key),
    )  # fmt: skip
    return True


async def rotate_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    grace_period_seconds: int | Literal["until_quiet"],
    actor: Actor,
    created_by: str | None,
) -> tuple[ApiKey, ApiKey, str]:
    """A successor with the same name, scopes, rate limit and expiry, in the same family
    (so the same window: rotating never buys a fresh one); the old key works on until
    the grace period ends (never past its own expiry; "until_quiet": once it has gone
    unused for a while, at most MAX_GRACE_PERIOD_SECONDS, see grace.py). Returns
    (old, new, the new full key). Both change in the caller's transaction or neither."""
    query = tenant_select(ApiKey, tenant_id).where(ApiKey.id == key_id).with_for_update()
    old = await session.scalar(query)
    if old is None:
        raise NotFoundError(API_KEY_NOT_FOUND)
    now = utcnow()
    if old.revoked_at is not None:
        raise ConflictError("API key is revoked: it cannot be rotated")
    if old.replaced_by_id is not None or old.rotated_at is not None:
        raise ConflictError("API key is already being rotated: rotate its replacement instead")
    if old.expires_at is not None and old.expires_at <= now:
        raise ConflictError("API key expired: create a new key instead")
    check_key_within(actor, old)
    policy = await key_policy.rules_of(session, tenant_id)
    policy.check_full_access(actor, old.scopes, old.dataset_ids)  # a successor: a new key
    new, full_key = _new_key(
        tenant_id,
        name=old.name,
        key_scopes=old.scopes,
        # A successor is a new key: no longer-lived than the policy lets one be made.
        expires_at=policy.lifetime(_inherited_expiry(actor, old.expires_at), asked=False, now=now),
        rate_limit=RateLimit(**old.rate_limit) if old.rate_limit else None,
        created_by=created_by,
        family_id=old.family_id,
    )
    new.dataset_ids, new.allowed_ips = old.dataset_ids, old.allowed_ips
    new.quota_requests, new.quota_period = old.quota_requests, old.quota_period
    new.pool_id = old.pool_id
    session.add(new)
    await session.flush()
    until_quiet = grace_period_seconds == "until_quiet"
    grace = MAX_GRACE_PERIOD_SECONDS if until_quiet else int(grace_period_seconds)
    old.grace_until_quiet = until_quiet
    grace_end = now + timedelta(seconds=grace)
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
    old.rotated_at = now
    old.replaced_by_id = new.id
    audit.record(
        session, tenant_id=tenant_id, action=Action.API_KEY_ROTATED, actor=actor,
        target=audit_target(old),
        details={
            "grace_period_seconds": grace_period_seconds,
            "old_key_expires_at": iso_utc(old.expires_at),
            "new_key_id": str(new.id),
            "new_key_prefix": new.key_prefix,
        },
    )  # fmt: skip
    await session.flush()
    await announce_change(session, old)
    return old, new, full_key


def _inherited_expiry(actor: Actor, expires_at: datetime | None) -> datetime | None:
    """A rotated key keeps its expiry, cut to the acting key's when that is sooner."""
    if actor.expires_at is None:
        return expires_at
    return min(expires_at, actor.expires_at) if expires_at else actor.expires_at


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """Where a key family's quota stands now: what is left, and when it refills."""

    remaining: int
    resets_at: datetime | None


async def quota_status(
    session: AsyncSession, api_keys: Sequence[ApiKey]
) -> dict[uuid.UUID, QuotaStatus]:
    """{key id: its family's quota status} for the keys that have a quota (one query)."""
    now = utcnow()
    with_quota = [(key, _quota_of_key(key)) for key in api_keys]
    families = [
        quotas.Quota(key.family_id, *quota) for key, quota in with_quota if quota is not None
    ]
    used = await quotas.used_now(session, families, now)
    return {
        key.id: QuotaStatus(
            max(quota[0] - used.get(key.family_id, 0), 0), quotas.resets_at(quota[1], now)
        )
        for key, quota in with_quota
        if quota is not None
    }
