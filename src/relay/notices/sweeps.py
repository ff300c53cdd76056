"""The sweep that raises time-driven notices: keys that expire within 7 days (and again
within 1 day), keys that have expired (unless their end was announced otherwise: a
rolled key's grace, an unused key expired by the key policy), and key families that used
80 % and then all of their quota this period.

Every worker sweeps (relay.notices.worker); a notice is raised once whatever the number
of sweeps (relay.notices.service.raise_notice), with its audit event (`api_key.expiring`,
`api_key.expired`, `api_key.quota_warning`, `api_key.quota_exhausted`) in the same
transaction, which webhooks announce. One transaction per tenant with a notice due
(looked for first outside any transaction, so a sweep that raises nothing takes no write
lock), in tenant order: a notice that cannot be raised is dropped alone, counted and
logged, and found again next time; the others, and the other tenants, go on
(relay.background.sweep_tenants). At most PER_TENANT keys of a tenant about to expire
(the soonest first) and PER_TENANT expired (the latest first) are looked at per sweep.
A quota's count includes units leased to workers (relay.limits.quotas), so a threshold
may be noticed a few requests early, never late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import SYSTEM
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.auth.models import ApiKey
from relay.auth.service import audit_target
from relay.background import reading, sweep_tenants
from relay.db import utcnow
from relay.limits import quotas
from relay.notices import service
from relay.notices.models import Notice
from relay.schemas import iso_utc

# (mark, how long before the expiry), the nearest last: a key is noticed at the
# nearest mark it has reached; "expired" once it has (api_key.expired).
EXPIRED = "expired"
EXPIRY_MARKS: tuple[tuple[str, timedelta], ...] = (
    ("7d", timedelta(days=7)),
    ("1d", timedelta(days=1)),
    (EXPIRED, timedelta(0)),
)
# A key that expired longer ago than this (servers down for a day, or keys expired
# before Relay announced expiries) is not announced any more.
EXPIRED_WITHIN = timedelta(days=1)
QUOTA_MARKS: tuple[tuple[str, int, Action], ...] = (
    ("80", 80, Action.API_KEY_QUOTA_WARNING),
    ("100", 100, Action.API_KEY_QUOTA_EXHAUSTED),
)
PER_TENANT = 1000


def _expiring(now: datetime) -> ColumnElement[bool]:
    """Keys that expire within 7 days, or expired within EXPIRED_WITHIN (which tenants
    may have an expiry notice due)."""
    return and_(
        ApiKey.expires_at > now - EXPIRED_WITHIN, ApiKey.expires_at <= now + EXPIRY_MARKS[0][1]
    )


@dataclass(frozen=True, slots=True)
class _Due:
    """A notice the sweep would raise, with the audit event that goes with it."""

    kind: service.Kind
    api_key: ApiKey
    subject_id: uuid.UUID
    mark: str
    period: str
    details: dict[str, object]
    action: Action

    @property
    def event(self) -> tuple[str, uuid.UUID, str, str]:
        """What makes the notice one (the unique key of `notices`)."""
        return self.kind, self.subject_id, self.mark, self.period


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime | None = None
) -> int:
    """Raise every notice due at `now`; returns how many were raised."""
    now = now or utcnow()
    async with reading(sessionmaker) as session:
        tenants = (
            await session.scalars(
                select(ApiKey.tenant_id)
                .where(ApiKey.revoked_at.is_(None))
                .where(or_(_expiring(now), ApiKey.quota_requests.is_not(None)))
                .distinct()
                .order_by(ApiKey.tenant_id)
            )
        ).all()

    async def find(session: AsyncSession, tenant_id: uuid.UUID) -> list[_Due]:
        return await _due(session, tenant_id=tenant_id, now=now)

    async def raise_due(
        session: AsyncSession, tenant_id: uuid.UUID, found: Sequence[_Due]
    ) -> list[_Due]:
        """Raise those of `found` still due (looked for again in the transaction)."""
        wanted = {notice.event for notice in found}
        due = [
            notice
            for notice in await _due(session, tenant_id=tenant_id, now=now)
            if notice.event in wanted
        ]
        return await _raise(session, tenant_id=tenant_id, due=due)

    raised = await sweep_tenants(
        sessionmaker, tenants, find, raise_due, writer="notice sweep",
        describe=lambda notice: f"{notice.kind} notice {notice.mark} of {notice.subject_id}",
    )  # fmt: skip
    return len(raised)


async def _due(session: AsyncSession, *, tenant_id: uuid.UUID, now: datetime) -> list[_Due]:
    return [
        *await _expiry_due(session, tenant_id=tenant_id, now=now),
        *await _quota_due(session, tenant_id=tenant_id, now=now),
    ]


async def _raise(session: AsyncSession, *, tenant_id: uuid.UUID, due: Iterable[_Due]) -> list[_Due]:
    """Raise each notice not raised yet, with its audit event; those that were."""
    raised = []
    for notice in due:
        if await service.raise_notice(
            session, tenant_id=tenant_id, kind=notice.kind, api_key=notice.api_key,
            subject_id=notice.subject_id, mark=notice.mark, period=notice.period,
            details=notice.details,
        ):  # fmt: skip
            audit.record(
                session, tenant_id=tenant_id, action=notice.action, actor=SYSTEM,
                target=audit_target(notice.api_key), details=notice.details,
            )  # fmt: skip
            raised.append(notice)
    return raised


async def _raised_before(
    session: AsyncSession, kind: str, subject_ids: Iterable[uuid.UUID]
) -> set[tuple[uuid.UUID, str, str]]:
    """(subject, mark, period) of the notices of `kind` about these subjects."""
    rows = await session.execute(
        select(Notice.subject_id, Notice.mark, Notice.period).where(
            Notice.kind == kind, Notice.subject_id.in_(list(subject_ids))
        )
    )
    return {(subject, mark, period) for subject, mark, period in rows.all()}


async def _expiry_due(session: AsyncSession, *, tenant_id: uuid.UUID, now: datetime) -> list[_Due]:
    """The expiry notices due: keys expiring within 7 days (soonest first), and keys that
    expired within EXPIRED_WITHIN whose expiry was not announced (newest first), each at
    most PER_TENANT, so that neither kind crowds the other out."""
    live = ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None)
    upcoming = (
        select(ApiKey)
        .where(*live, ApiKey.expires_at > now, ApiKey.expires_at <= now + EXPIRY_MARKS[0][1])
        .order_by(ApiKey.expires_at, ApiKey.id)
    )
    announced = (
        select(Notice.id)
        .where(Notice.kind == service.EXPIRY, Notice.subject_id == ApiKey.id)
        .where(Notice.mark == EXPIRED)
    )
    # A rolled key's grace ending was announced by its rotation (and its end, by hand or
    # when quiet); an unused key's expiry by the key policy's sweep (_expired_unused).
    expired = (
        select(ApiKey)
        .where(*live, ApiKey.expires_at > now - EXPIRED_WITHIN, ApiKey.expires_at <= now)
        .where(ApiKey.replaced_by_id.is_(None), ~announced.exists())
        .order_by(ApiKey.expires_at.desc(), ApiKey.id)
    )
    keys = [
        *(await session.scalars(upcoming.limit(PER_TENANT))).all(),
        *(await session.scalars(expired.limit(PER_TENANT))).all(),
    ]
    before = await _raised_before(session, service.EXPIRY, (key.id for key in keys))
    unused = await _expired_unused(session, tenant_id, [k for k in keys if _expired(k, now)])
    due = []
    for api_key in keys:
        expires_at = api_key.expires_at
        assert expires_at is not None  # the queries' condition
        mark, ahead = [(m, a) for m, a in EXPIRY_MARKS if expires_at - now <= a][-1]
        period = iso_utc(expires_at)
        if (api_key.id, mark, period) in before or str(api_key.id) in unused:
            continue
        details: dict[str, object] = {"expires_at": period, "days": ahead.days}
        action = Action.API_KEY_EXPIRING
        if mark == EXPIRED:
            details, action = {"expires_at": period}, Action.API_KEY_EXPIRED
        due.append(_Due(service.EXPIRY, api_key, api_key.id, mark, period, details, action))
    return due


def _expired(api_key: ApiKey, now: datetime) -> bool:
    return api_key.expires_at is not None and api_key.expires_at <= now


async def _expired_unused(
    session: AsyncSession, tenant_id: uuid.UUID, keys: Iterable[ApiKey]
) -> set[str]:
    """The ids of those keys the key policy's sweep expired for being unused."""
    ids = [str(api_key.id) for api_key in keys]
    if not ids:
        return set()
    found = await session.scalars(
        select(AuditEvent.target_id).where(
            AuditEvent.tenant_id == tenant_id,
            AuditEvent.target_type == "api_key",
            AuditEvent.target_id.in_(ids),
            AuditEvent.action == Action.API_KEY_EXPIRED_UNUSED,
        )
    )
    return {target_id for target_id in found if target_id is not None}


def _named_key_of_families(keys: Iterable[ApiKey]) -> dict[uuid.UUID, ApiKey]:
    """{family: the key its notices name}: the family's newest key not yet replaced."""
    named: dict[uuid.UUID, ApiKey] = {}
    for api_key in keys:
        current = named.get(api_key.family_id)
        replaced = current is not None and current.replaced_by_id is not None
        if current is None or (replaced and api_key.replaced_by_id is None):
            named[api_key.family_id] = api_key
    return named


async def _quota_due(session: AsyncSession, *, tenant_id: uuid.UUID, now: datetime) -> list[_Due]:
    keys = (
        await session.scalars(
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
            .where(ApiKey.quota_requests.is_not(None), ApiKey.quota_period.is_not(None))
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
            .limit(PER_TENANT)
        )
    ).all()
    families = _named_key_of_families(keys)
    limits = {
        family: quotas.Quota(family, key.quota_requests or 0, _period(key.quota_period))
        for family, key in families.items()
    }
    used = await quotas.used_now(session, list(limits.values()), now)
    before = await _raised_before(session, service.QUOTA, families)
    due = []
    for family, quota in limits.items():
        times = quotas.period_times(quota.period, now)
        for mark, percent, action in QUOTA_MARKS:
            if used.get(family, 0) * 100 < quota.requests * percent:
                break
            if (family, mark, times.key) in before:
                continue
            details: dict[str, object] = {
                "requests": quota.requests,
                "period": quota.period,
                "percent": percent,
                "resets_at": iso_utc(times.resets_at) if times.resets_at else None,
            }
            due.append(
                _Due(service.QUOTA, families[family], family, mark, times.key, details, action)
            )
    return due


def _period(stored: str | None) -> quotas.Period:
    return next((period for period in quotas.PERIODS if period == stored), "none")
