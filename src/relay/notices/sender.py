"""Sending notices' mail, after the commit that raised them, at least once.

A turn claims up to BATCH pending deliveries in one short transaction (PostgreSQL: FOR
UPDATE SKIP LOCKED, so workers and servers each take other rows; SQLite has one
process) and moves their next attempt past LEASE: no other sender takes them while they
are in flight. Each is then mailed, and marked sent only by the claim's holder. A mail
the server refuses is tried again after RETRY; a sender that dies between sending and
marking leaves it due again once the lease passes (at least once: the one way to send
twice, against never sending). A delivery not sent within MAX_AGE (mail configured
late, a server down for days) is left: news that old is in the dashboard.

A commit that raised a notice wakes every sender of this process at once
(`wake_after_commit`), so a leaked key's mail goes out within moments; the periodic
sweep sends what any other process raised.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from relay.config import Settings
from relay.db import utcnow
from relay.mail import Mail, Mailer
from relay.notices.mails import notice_mail
from relay.notices.models import FAILED, PENDING, SENT, Notice, NoticeDelivery
from relay.tenants.models import Tenant, User

logger = logging.getLogger(__name__)

BATCH = 20
# Longer than a mail can take (mail.SEND_TIMEOUT, twice over): never reached by a live
# sender, so no mail is sent twice at once.
LEASE = timedelta(seconds=60)
RETRY = timedelta(minutes=5)
MAX_AGE = timedelta(days=2)
_RAISED = "relay.notices.raised"
# The wake-up events of this process's senders.
_senders: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


def wake_after_commit(session: AsyncSession) -> None:
    """Have this process's senders look for mail once `session` commits."""
    session.sync_session.info[_RAISED] = True


def listen(wake: asyncio.Event) -> None:
    """Set `wake` whenever a commit raised a notice (until `stop_listening`)."""
    _senders.add(wake)


def stop_listening(wake: asyncio.Event) -> None:
    _senders.discard(wake)


@event.listens_for(Session, "after_commit")
def _wake_senders(session: Session) -> None:
    if session.info.pop(_RAISED, False):
        for wake in list(_senders):
            wake.set()


@event.listens_for(Session, "after_soft_rollback")
def _forget_raised(session: Session, _transaction: object) -> None:
    session.info.pop(_RAISED, None)


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    mail: Mail


async def claim_due(
    session: AsyncSession, settings: Settings, *, now: datetime, limit: int = BATCH
) -> list[Claimed]:
    """Claim up to `limit` due deliveries (see the module), with their mail."""
    due = (
        select(NoticeDelivery.id)
        .where(NoticeDelivery.status == PENDING, NoticeDelivery.next_attempt_at <= now)
        .where(NoticeDelivery.created_at >= now - MAX_AGE)
        .order_by(NoticeDelivery.next_attempt_at, NoticeDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    lease_id = uuid.uuid4()
    await session.execute(
        update(NoticeDelivery)
        .where(NoticeDelivery.id.in_(ids))
        .values(
            lease_id=lease_id, next_attempt_at=now + LEASE, attempts=NoticeDelivery.attempts + 1
        )
    )
    rows = await session.execute(
        select(NoticeDelivery.id, Notice, User.email, Tenant.name)
        .join(Notice, Notice.id == NoticeDelivery.notice_id)
        .join(User, User.id == NoticeDelivery.user_id)
        .join(Tenant, Tenant.id == NoticeDelivery.tenant_id)
        .where(NoticeDelivery.id.in_(ids))
        .order_by(NoticeDelivery.id)
    )
    claimed: list[Claimed] = []
    for delivery_id, notice, email, organisation in rows:
        try:
            mail = notice_mail(notice, to=email, organisation=organisation, settings=settings)
        except Exception as exc:  # a notice that cannot be written must not stop the rest
            logger.error(
                "notice mail cannot be written",
                extra={"delivery_id": str(delivery_id), "error": type(exc).__name__},
            )
            await session.execute(
                update(NoticeDelivery)
                .where(NoticeDelivery.id == delivery_id)
                .values(status=FAILED, lease_id=None)
            )
            continue
        claimed.append(Claimed(delivery_id, lease_id, mail))
    return claimed


async def _record(session: AsyncSession, claimed: Claimed, *, sent: bool, now: datetime) -> None:
    values: dict[str, object] = {"lease_id": None}
    values |= {"status": SENT, "sent_at": now} if sent else {"next_attempt_at": now + RETRY}
    await session.execute(
        update(NoticeDelivery)
        .where(
            NoticeDelivery.id == claimed.delivery_id,
            NoticeDelivery.lease_id == claimed.lease_id,
        )
        .values(**values)
    )


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> int:
    """Claim and mail one batch of due deliveries; returns how many were sent. A mail
    that fails is logged and tried again later; the others go on."""
    now = now or utcnow()
    async with sessionmaker.begin() as session:
        claimed = await claim_due(session, settings, now=now)
    sent = 0
    for each in claimed:
        try:
            await mailer.send(each.mail)
        except (OSError, smtplib.SMTPException) as exc:
            logger.warning(
                "notice mail not sent, will retry",
                extra={"delivery_id": str(each.delivery_id), "error": type(exc).__name__},
            )
            ok = False
        else:
            ok = True
            sent += 1
        async with sessionmaker.begin() as session:
            await _record(session, each, sent=ok, now=utcnow())
    return sent
