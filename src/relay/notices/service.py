"""Raising notices, the recipients' choices, and the dashboard's list.

`raise_notice` writes a notice once per event (the unique key of `notices`, INSERT ...
ON CONFLICT DO NOTHING: a sweep run by several workers, or again after a restart,
raises nothing new) and, in the same transaction, a pending delivery for each owner
and admin of the tenant who has not turned that kind off. Whoever raised it then only
flushes; the mail goes after the commit (relay.notices.sender)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth.models import ApiKey
from relay.db import tenant_select, utcnow
from relay.notices import sender
from relay.notices.mails import explanation, headline
from relay.notices.models import Notice, NoticeDelivery, NoticePreference
from relay.tenants import roles
from relay.tenants.models import Tenant, User
from relay.upserts import insert_for

Kind = Literal["expiry", "leak", "quota", "network"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
EXPIRY: Final[Kind] = "expiry"
LEAK: Final[Kind] = "leak"
QUOTA: Final[Kind] = "quota"
NEW_NETWORK: Final[Kind] = "network"
# What the Account form says of each kind.
KIND_NAMES: Final[dict[Kind, str]] = {
    EXPIRY: "An API key expires in 7 days, again 1 day before, and when it has expired",
    LEAK: "An API key was found exposed and revoked",
    QUOTA: "An API key has used 80 % and then all of its quota",
    NEW_NETWORK: "An API key was used from a network it was not used from in 30 days",
}
# Who gets notices: the members who manage the organisation's policies (owners, admins).
RECIPIENT_ROLES: Final[tuple[str, ...]] = tuple(
    role for role in roles.ROLES if roles.may(role, roles.POLICIES)
)
# The dashboard lists the notices of this long ago at most (the leak notices have
# their own banner: relay.leaks).
SHOWN_FOR = timedelta(days=8)
SHOWN_AT_MOST = 10


def key_label(api_key: ApiKey) -> str:
    return f"{api_key.name} ({api_key.key_prefix}…)"


async def raise_notice(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: Kind,
    api_key: ApiKey,
    subject_id: uuid.UUID,
    mark: str,
    period: str,
    details: dict[str, object],
) -> bool:
    """Raise the notice of an event, with its deliveries; False when it was raised
    already (by this worker or another, now or before)."""
    now = utcnow()
    statement = (
        insert_for(session, Notice)
        .values(
            id=uuid.uuid4(), tenant_id=tenant_id, kind=kind, subject_id=subject_id, mark=mark,
            period=period, key_id=api_key.id, key_label=key_label(api_key), details=details,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "subject_id", "mark", "period"])
        .returning(Notice.id)
    )  # fmt: skip
    notice_id = (await session.execute(statement)).scalar_one_or_none()
    if notice_id is None:
        return False
    wanted = getattr(NoticePreference, kind)
    recipients = await session.scalars(
        select(User.id)
        .outerjoin(NoticePreference, NoticePreference.user_id == User.id)
        .where(User.tenant_id == tenant_id, User.role.in_(RECIPIENT_ROLES))
        .where(wanted.is_(None) | wanted.is_(True))
        .order_by(User.id)
    )
    session.add_all(
        NoticeDelivery(
            tenant_id=tenant_id, notice_id=notice_id, user_id=user_id, next_attempt_at=now,
            created_at=now,
        )
        for user_id in recipients
    )  # fmt: skip
    await session.flush()
    sender.wake_after_commit(session)
    return True


async def preferences(session: AsyncSession, *, user_id: uuid.UUID) -> dict[Kind, bool]:
    """{kind: whether the user wants it by mail}."""
    chosen = await session.get(NoticePreference, user_id)
    return {kind: chosen is None or getattr(chosen, kind) is not False for kind in KINDS}


async def save_preferences(session: AsyncSession, *, user_id: uuid.UUID, wanted: set[Kind]) -> None:
    """Mail the user the kinds in `wanted`, and no other."""
    values = {kind: kind in wanted for kind in KINDS}
    statement = insert_for(session, NoticePreference).values(user_id=user_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_=values))


@dataclass(frozen=True, slots=True)
class ShownNotice:
    """A notice as the dashboard shows it."""

    id: uuid.UUID
    key_id: uuid.UUID
    key_label: str
    headline: str
    explanation: str
    created_at: datetime


async def open_notices(
    session: AsyncSession, *, tenant_id: uuid.UUID, now: datetime | None = None
) -> list[ShownNotice]:
    """The tenant's recent expiry, quota and new-network notices nobody dismissed,
    newest first (of a key's expiry notices, the newest)."""
    since = (now or utcnow()) - SHOWN_FOR
    query = (
        tenant_select(Notice, tenant_id)
        .where(Notice.kind.in_((EXPIRY, QUOTA, NEW_NETWORK)), Notice.dismissed_at.is_(None))
        .where(Notice.created_at >= since)
        .order_by(Notice.created_at.desc(), Notice.id)
        .limit(SHOWN_AT_MOST)
    )
    # A key's newest expiry notice only: "has expired" replaces "expires in 1 day",
    # which replaced "in 7 days".
    found, expiring = [], set()
    for notice in await session.scalars(query):
        if notice.kind == EXPIRY:
            if notice.key_id in expiring:
                continue
            expiring.add(notice.key_id)
        found.append(notice)
    if not found:
        return []
    organisation = await session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    return [
        ShownNotice(
            id=notice.id,
            key_id=notice.key_id,
            key_label=notice.key_label,
            headline=headline(notice, organisation or ""),
            explanation=explanation(notice, organisation or ""),
            created_at=notice.created_at,
        )
        for notice in found
    ]


async def dismiss_notice(
    session: AsyncSession, *, tenant_id: uuid.UUID, notice_id: uuid.UUID
) -> None:
    """Hide a notice for everyone in the tenant (another tenant's: nothing happens)."""
    await session.execute(
        update(Notice)
        .where(Notice.tenant_id == tenant_id, Notice.id == notice_id)
        .values(dismissed_at=utcnow())
    )
