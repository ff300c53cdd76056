"""Quotas with refill: at most `requests` requests accepted per UTC day, per UTC month,
or ever ("none"), counted per key family (a rotated key's successor shares its count)
and over the key's lineage, as rate limits are: a request also counts in the quota of
every family that made its key's, and passes only when every quota has room.

Exact across workers and servers, with Redis or without: the count lives in the
database (`api_key_quota_usage`: family, period, units used), and never goes past the
quota. A worker takes units from it in leases, one conditional statement each
(`used + n <= requests`), and hands them out from memory; a lease is smaller as the
quota runs out, down to one unit at a time for the last ones. So a busy key costs a
write every few dozen requests, not one per request, and a worker that stops holding
units loses them: a key may be refused a few requests early, never one too late.
`remaining` (reads, headers) counts units leased and not yet used as used.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Column, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from relay.db import utcnow
from relay.limit_pools.models import PoolQuotaUsage
from relay.limits.models import QuotaUsage

Period = Literal["day", "month", "none"]
PERIODS: tuple[Period, ...] = ("day", "month", "none")
# A lease is at most this many units, and about an eighth of what is left.
MAX_LEASE = 50
_usage = cast(Table, QuotaUsage.__table__)
_pool_usage = cast(Table, PoolQuotaUsage.__table__)


@dataclass(frozen=True, slots=True)
class Quota:
    """A key family's quota, or a limit pool's (`pool`): `requests` per `period`, counted
    under `family_id` (the family's id, or the pool's)."""

    family_id: uuid.UUID
    requests: int
    period: Period
    pool: bool = False

    @property
    def counter(self) -> tuple[Table, Column[uuid.UUID]]:
        """The table its count lives in, and the column naming whose count a row is."""
        if self.pool:
            return _pool_usage, _pool_usage.c.pool_id
        return _usage, _usage.c.family_id


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    quota: Quota
    allowed: bool
    # Units left in the period, as far as this worker knows (leased units count as used).
    remaining: int
    # When the period ends and the count starts again; None for "none".
    resets_at: datetime | None
    # The period's length in seconds (the RateLimit fields' `w`); None for "none".
    length: int | None = None


@dataclass(frozen=True, slots=True)
class PeriodTimes:
    """Where a period stands on one UTC day: its count's key ("2026-12-07", "2026-12",
    "all"), when it ends and the count starts again (None for "none"), and its length in
    seconds (this month's for "month"; None for "none")."""

    key: str
    resets_at: datetime | None
    length: int | None


@functools.lru_cache(maxsize=64)
def _times_on(period: Period, day: date) -> PeriodTimes:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    if period == "day":
        return PeriodTimes(day.isoformat(), start + timedelta(days=1), 86_400)
    if period == "month":
        days = calendar.monthrange(day.year, day.month)[1]
        return PeriodTimes(
            f"{day.year:04d}-{day.month:02d}",
            start.replace(day=1) + timedelta(days=days),
            days * 86_400,
        )
    return PeriodTimes("all", None, None)


def period_times(period: Period, now: datetime) -> PeriodTimes:
    """The period `now` is in, worked out once per UTC day (each request asks)."""
    return _times_on(period, now.astimezone(UTC).date())


def period_key(period: Period, now: datetime) -> str:
    """The period `now` is in: "2026-12-07", "2026-12", or "all"."""
    return period_times(period, now).key


def resets_at(period: Period, now: datetime) -> datetime | None:
    """The UTC day's or month's end (the next one's start); None for "none"."""
    return period_times(period, now).resets_at


def no_larger(quota: tuple[int, Period] | None, bound: tuple[int, Period]) -> bool:
    """Whether `quota` lets through no more than `bound` in any of its periods: as many
    requests at most, refilled no more often (a day's quota refills thirty times a
    month). No quota is larger than any."""
    if quota is None:
        return False
    requests, period = quota
    bound_requests, bound_period = bound
    return requests <= bound_requests and PERIODS.index(period) >= PERIODS.index(bound_period)


class QuotaExhausted(Exception):
    """Raised inside: the quota has no unit left this period."""


def _upsert(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# What a worker leases units of: (family or pool, period key, the quota's requests).
# The size is part of it: units leased under a larger quota must not be handed out once
# it is lowered (the lower quota's first lease finds the database's count instead).
Slot = tuple[uuid.UUID, str, int]


class QuotaLedger:
    """One worker's leases of quota units, taken from the database."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        # Units leased and not handed out yet, per slot.
        self._leased: dict[Slot, int] = {}
        # The database's count after this worker's last lease, per slot.
        self._used: dict[Slot, int] = {}
        self._locks: dict[Slot, asyncio.Lock] = {}
        # Each family's or pool's slot as of its last lease: what it leased before (a past
        # period, a former quota) is dropped when this changes.
        self._current: dict[uuid.UUID, Slot] = {}

    async def take(self, quotas: Sequence[Quota]) -> list[QuotaDecision]:
        """One unit of every quota, or (when one has none left this period) of none; a
        decision per quota, in order."""
        now = self._clock()
        times = [period_times(quota.period, now) for quota in quotas]
        slots = [
            (quota.family_id, at.key, quota.requests)
            for quota, at in zip(quotas, times, strict=True)
        ]
        rooms = []
        for quota, slot in zip(quotas, slots, strict=True):
            if self._leased.get(slot, 0) > 0:  # the usual case: no coroutine, no await
                self._leased[slot] -= 1
                rooms.append(True)
            else:
                rooms.append(await self._take_unit(quota, slot))
        if not all(rooms):  # refused: the units held go back to this worker's leases
            for slot, room in zip(slots, rooms, strict=True):
                if room and self._is_current(slot):
                    self._leased[slot] = self._leased.get(slot, 0) + 1
        return [
            QuotaDecision(quota, room, self._remaining(quota, slot), at.resets_at, at.length)
            for quota, slot, room, at in zip(quotas, slots, rooms, times, strict=True)
        ]

    def _remaining(self, quota: Quota, slot: Slot) -> int:
        used = self._used.get(slot, 0)
        return max(quota.requests - used, 0) + self._leased.get(slot, 0)

    def _is_current(self, slot: Slot) -> bool:
        return self._current.get(slot[0]) == slot

    async def _take_unit(self, quota: Quota, slot: Slot) -> bool:
        """Take one unit of the quota when this worker's lease had none (take() hands
        out leased units itself): lease more, or find a unit another request leased
        meanwhile; False when the period has none left. A unit is held as soon as it is
        found (nothing awaits in between): while the next quota of a request leases,
        requests at once must not find the same unit."""
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:  # one lease at a time per quota in this worker
            if self._leased.get(slot, 0) > 0:
                self._leased[slot] -= 1
                return True
            self._move_to(slot)
            left = quota.requests - self._used.get(slot, 0)
            for size in dict.fromkeys((max(1, min(MAX_LEASE, left // 8)), 1)):
                granted = await self._lease(quota, slot, size)
                if granted:
                    # The rest is kept unless the family moved on meanwhile (a new
                    # period or quota): then it is lost, as units held at shutdown are.
                    if self._is_current(slot):
                        self._leased[slot] = self._leased.get(slot, 0) + granted - 1
                    return True
            return False

    async def _lease(self, quota: Quota, slot: Slot, size: int) -> int:
        """`size` units from the database's count if that many are left (then the count
        after), else 0."""
        family_id, key, _ = slot
        if size > quota.requests:
            return 0
        table, owner = quota.counter
        # One statement, atomic by itself: no transaction around it (the BEGIN and COMMIT
        # were two of a lease's three round trips, and a session's bookkeeping the most
        # of its CPU).
        async with self._engine.connect() as connection:
            statement = _upsert(self._engine.dialect.name, table).values(
                {owner.name: family_id, "period": key, "used": size}
            )
            statement = statement.on_conflict_do_update(
                index_elements=[owner, table.c.period],
                set_={"used": table.c.used + size},
                where=table.c.used + size <= quota.requests,
            ).returning(table.c.used)
            used = (await connection.execute(statement)).scalar_one_or_none()
            if used is None:
                current = await connection.scalar(
                    select(table.c.used).where(owner == family_id, table.c.period == key)
                )
                if self._is_current(slot):
                    self._used[slot] = current or quota.requests
                return 0
        if self._is_current(slot):
            self._used[slot] = used
        return size

    def _move_to(self, slot: Slot) -> None:
        """Make `slot` its family's current one, dropping what this worker remembers of
        the one before (a past period or a former quota: its leased units are lost, so
        a few requests may be refused early, never one let through late)."""
        before = self._current.get(slot[0])
        if before == slot:
            return
        self._current[slot[0]] = slot
        if before is not None:
            self._leased.pop(before, None)
            self._used.pop(before, None)
            self._locks.pop(before, None)

    async def give_back(self, quotas: Sequence[Quota]) -> None:
        """Return one unit of each quota (taken for a request refused after all, by a
        rate limit): it goes back to this worker's lease."""
        now = self._clock()
        for quota in quotas:
            slot = (quota.family_id, period_key(quota.period, now), quota.requests)
            if self._is_current(slot):  # else the family moved on: the unit is lost
                self._leased[slot] = self._leased.get(slot, 0) + 1


async def used_now(
    session: AsyncSession, quotas: Sequence[Quota], now: datetime | None = None
) -> dict[uuid.UUID, int]:
    """{family or pool: units used (leased ones included) in its current period}, for
    reads (one query per kind of counter)."""
    now = now or utcnow()
    used: dict[uuid.UUID, int] = {}
    for pool in (False, True):
        of_kind = [quota for quota in quotas if quota.pool == pool]
        if not of_kind:
            continue
        table, owner = of_kind[0].counter
        wanted = {(quota.family_id, period_key(quota.period, now)) for quota in of_kind}
        rows = await session.execute(
            select(owner, table.c.period, table.c.used).where(
                owner.in_({counted for counted, _ in wanted})
            )
        )
        used |= {
            counted: units for counted, period, units in rows.all() if (counted, period) in wanted
        }
    return used
