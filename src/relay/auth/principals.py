"""Principals built from api_keys rows: the one place a key's lineage is resolved, for
one key (a cache miss, verifier.py) or a batch of keys (the cache's prewarm,
prewarm.py), by the same code.

A principal carries the rate limit windows and quotas of its family, of every family
that made it (from their rows as they are now) and of its pool, so limits are computed
over the lineage once per load, never per request.

The reads are Core statements compiled once (reads.PreparedRead: on PostgreSQL,
prepared on asyncpg's read pool). The verifier once built its statement per miss and
ran it through SQLAlchemy's pool: 1.27 ms of the worker's CPU per miss with 16 at once
(construction, cache key and result adaptation, the pool's greenlet bridge), 1.38 ms
alone; now 0.27 ms and 0.45 ms (bench/cold_start.py --part miss, 2026-12-07). A key
that is a family of its own (most keys) costs one round trip; one with a lineage, two.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Select, Table, any_, bindparam, select

from relay.auth import restrictions
from relay.auth.models import ApiKey
from relay.auth.principal import Principal
from relay.limit_pools.models import LimitPool
from relay.limits.policy import family_window, pool_window
from relay.limits.quotas import PERIODS, Period, Quota
from relay.limits.windows import Window
from relay.reads import PreparedRead, Reader

Row = Mapping[str, Any]

_keys = cast(Table, ApiKey.__table__)
_pools = cast(Table, LimitPool.__table__).alias("pool")


def key_rows() -> Select[Any]:
    """The columns a principal is built from, with the key's pool's limits (by their
    pool_ names); a caller adds which keys."""
    return select(
        _keys.c.tenant_id,
        _keys.c.id,
        _keys.c.key_prefix,
        _keys.c.scopes,
        _keys.c.expires_at,
        _keys.c.revoked_at,
        _keys.c.rate_limit_requests,
        _keys.c.rate_limit_seconds,
        _keys.c.family_id,
        _keys.c.made_by_id,
        _keys.c.replaced_by_id,
        _keys.c.disabled_at,
        _keys.c.dataset_ids,
        _keys.c.allowed_ips,
        _keys.c.quota_requests,
        _keys.c.quota_period,
        _keys.c.pool_id,
        _pools.c.rate_limit_requests.label("pool_rate_limit_requests"),
        _pools.c.rate_limit_seconds.label("pool_rate_limit_seconds"),
        _pools.c.quota_requests.label("pool_quota_requests"),
        _pools.c.quota_period.label("pool_quota_period"),
    ).select_from(
        _keys.outerjoin(
            _pools, (_pools.c.id == _keys.c.pool_id) & (_pools.c.tenant_id == _keys.c.tenant_id)
        )
    )


_BY_HASH = PreparedRead(key_rows().where(_keys.c.key_hash == bindparam("key_hash")))


def _makers_of(chosen: ColumnElement[bool]) -> Select[Any]:
    """For each family of the `chosen` keys (its `origin`), the families that made it,
    directly or through others (whichever key of a family made a key of the other, by
    creating or rotating it), each with its rate limit and quota now: its newest key's.
    Revoked and expired makers count too: retiring a key must not lift the limit it put
    on the keys it made. Ordered by family id, for stable answers; the family itself is
    left out. Every step stays within the key's tenant."""
    member, maker = _keys.alias("member"), _keys.alias("maker")
    lineage = (
        select(_keys.c.tenant_id, _keys.c.family_id.label("origin"), _keys.c.family_id)
        .where(chosen)
        .cte("lineage", recursive=True)
    )
    # UNION, not UNION ALL: a family met twice (keys that made each other's) ends the walk.
    lineage = lineage.union(
        select(lineage.c.tenant_id, lineage.c.origin, maker.c.family_id)
        .select_from(member)
        .join(
            lineage,
            (member.c.family_id == lineage.c.family_id)
            & (member.c.tenant_id == lineage.c.tenant_id),
        )
        .join(maker, maker.c.id == member.c.made_by_id)
        .where(maker.c.tenant_id == lineage.c.tenant_id)
    )
    return (
        select(
            lineage.c.origin,
            _keys.c.family_id,
            _keys.c.rate_limit_requests,
            _keys.c.rate_limit_seconds,
            _keys.c.quota_requests,
            _keys.c.quota_period,
        )
        .select_from(_keys)
        .join(
            lineage,
            (_keys.c.family_id == lineage.c.family_id) & (_keys.c.tenant_id == lineage.c.tenant_id),
        )
        .where(_keys.c.replaced_by_id.is_(None), _keys.c.family_id != lineage.c.origin)
        .order_by(lineage.c.origin, _keys.c.family_id)
    )


# asyncpg binds the ids as one uuid[]; SQLite has no arrays, so there the IN list is
# expanded to the ids' number when run.
_MAKERS = PreparedRead(
    _makers_of(_keys.c.id == any_(bindparam("key_ids", type_=ARRAY(_keys.c.id.type)))),
    portable=_makers_of(_keys.c.id.in_(bindparam("key_ids", expanding=True))),
)


async def load_key(reader: Reader, key_hash: str) -> tuple[Principal | None, str]:
    """(principal, "") for a live key; (None, "invalid" or "revoked") otherwise. Expired
    and disabled keys have a principal: the verifier refuses them with their reason."""
    rows = await _BY_HASH.rows(reader, {"key_hash": key_hash})
    if not rows:
        return None, "invalid"
    if rows[0]["revoked_at"] is not None:
        return None, "revoked"
    (principal,) = await principals_of(reader, rows)
    return principal, ""


async def principals_of(reader: Reader, rows: Sequence[Row]) -> list[Principal]:
    """The principal of each row of `key_rows()`, in order: one more query for the
    lineage of those keys that have one, none when none has."""
    # A key never rotated nor made by a key is a family of one: no lineage to walk.
    with_lineage = [row["id"] for row in rows if not _alone(row)]
    makers: dict[uuid.UUID, dict[uuid.UUID, _Maker]] = {}
    if with_lineage:
        for maker in await _MAKERS.rows(reader, {"key_ids": with_lineage}):
            limits = _Maker(_limit(maker), _quota(maker))
            makers.setdefault(maker["origin"], {})[maker["family_id"]] = limits
    return [_principal(row, makers.get(row["family_id"], {})) for row in rows]


def _alone(row: Row) -> bool:
    never_rotated = row["replaced_by_id"] is None and row["family_id"] == row["id"]
    return never_rotated and row["made_by_id"] is None


@dataclass(frozen=True, slots=True)
class _Maker:
    """A family that made the key's, with its limits now."""

    limit: tuple[int, int] | None
    quota: tuple[int, Period] | None


def _principal(row: Row, makers: dict[uuid.UUID, _Maker]) -> Principal:
    family_id = row["family_id"]
    own_limit = _limit(row)
    windows = [family_window(family_id, *own_limit)] if own_limit else []
    windows += [
        family_window(family, *maker.limit) for family, maker in makers.items() if maker.limit
    ]
    own_quota = _quota(row)
    quotas = [Quota(family_id, *own_quota)] if own_quota else []
    quotas += [Quota(family, *maker.quota) for family, maker in makers.items() if maker.quota]
    if row["pool_id"] is not None:  # the pool's limits bind every key in it as well
        windows, quotas = _with_pool(row, windows, quotas)
    return Principal(
        tenant_id=row["tenant_id"],
        key_id=row["id"],
        key_prefix=row["key_prefix"],
        scopes=tuple(row["scopes"]),
        expires_at=row["expires_at"],
        rate_limit=own_limit,
        families=(family_id, *makers),
        limit_windows=tuple(windows),
        disabled=row["disabled_at"] is not None,
        dataset_ids=restrictions.dataset_ids_of(row["dataset_ids"]),
        allowed_networks=restrictions.networks_of(row["allowed_ips"]),
        quotas=tuple(quotas),
        own_quota=own_quota,
        pool_id=row["pool_id"],
    )


def _with_pool(
    row: Row, windows: list[Window], quotas: list[Quota]
) -> tuple[list[Window], list[Quota]]:
    """The key's windows and quotas with its pool's, last."""
    limit = (row["pool_rate_limit_requests"], row["pool_rate_limit_seconds"])
    if None not in limit:
        windows = [*windows, pool_window(row["pool_id"], *limit)]
    if row["pool_quota_requests"] is not None and row["pool_quota_period"] in PERIODS:
        period: Period = row["pool_quota_period"]
        quotas = [*quotas, Quota(row["pool_id"], row["pool_quota_requests"], period, pool=True)]
    return windows, quotas


def _limit(row: Row) -> tuple[int, int] | None:
    """A row's (requests, per seconds), or None when it has no rate limit."""
    if row["rate_limit_requests"] is None or row["rate_limit_seconds"] is None:
        return None
    return row["rate_limit_requests"], row["rate_limit_seconds"]


def _quota(row: Row) -> tuple[int, Period] | None:
    """A row's (requests, period), or None when it has no quota."""
    if row["quota_requests"] is None or row["quota_period"] not in PERIODS:
        return None
    period: Period = row["quota_period"]
    return row["quota_requests"], period
