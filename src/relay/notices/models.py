"""ORM models of notices: what happened (one row per event, unique, so that a sweep run
by several workers at once raises it once), its delivery to each recipient, and each
user's choice of the kinds they want by mail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredJSON, StoredString, TenantOwned, UTCDateTime, utcnow

PENDING = "pending"
SENT = "sent"
# A notice whose mail cannot be written (never seen; kept for a look, never retried).
FAILED = "failed"


class Notice(TenantOwned, Base):
    __tablename__ = "notices"
    __table_args__ = (
        # The event: a key's 7-day mark of one expiry date, a family's 80 % of one day's
        # quota. Raised with INSERT ... ON CONFLICT DO NOTHING, so once.
        UniqueConstraint("kind", "subject_id", "mark", "period", name="uq_notices_event"),
        Index("ix_notices_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # "expiry", "leak", "quota" or "network" (relay.notices.service.KINDS).
    kind: Mapped[str] = mapped_column(StoredString(10))
    # The key (expiry, leak) or key family (quota) it is about.
    subject_id: Mapped[uuid.UUID] = mapped_column()
    # "7d"/"1d" before an expiry, "80"/"100" of a quota, "revoked" for a leak.
    mark: Mapped[str] = mapped_column(StoredString(10))
    # The expiry date (ISO) or the quota's period ("2026-12-07"); "" for a leak.
    period: Mapped[str] = mapped_column(StoredString(40))
    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    # "<name> (<prefix>…)", as the key was called then.
    key_label: Mapped[str] = mapped_column(StoredString(200))
    # What the mail and the dashboard say besides (dates, the quota, where it leaked).
    details: Mapped[dict[str, object]] = mapped_column(StoredJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoticeDelivery(TenantOwned, Base):
    """A notice's mail to one member: pending until a sender has sent it."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "user_id", name="uq_notice_deliveries_notice_id"),
        Index("ix_notice_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(StoredString(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due then; a sender that claims it moves this past its lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The claim of the sender sending it now: only that sender records the outcome.
    lease_id: Mapped[uuid.UUID | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticePreference(Base):
    """The kinds of notice a user wants by mail; no row: all of them."""

    __tablename__ = "notice_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    expiry: Mapped[bool] = mapped_column(default=True)
    leak: Mapped[bool] = mapped_column(default=True)
    quota: Mapped[bool] = mapped_column(default=True)
    # Null (a row saved before the kind existed): wanted, as every kind is by default.
    network: Mapped[bool | None] = mapped_column(default=True)
