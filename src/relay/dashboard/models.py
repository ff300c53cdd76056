"""ORM models the dashboard needs: invitations, failed sign-ins (browser sessions are
relay.accounts')."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, false
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString, TenantOwned, UTCDateTime, utcnow


class Invitation(TenantOwned, Base):
    """A single-use link that lets a new member set a password and join a tenant."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(StoredString(320))
    token_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """One failed (or not yet checked) sign-in; recent ones are counted per email and
    per address, or per device for a browser that signed in before."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_device_at", "device", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(StoredString(320))
    address: Mapped[str] = mapped_column(StoredString(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An attempt is recorded before its password is checked: pending until then.
    pending: Mapped[bool] = mapped_column(default=False)
    # The device cookie's id the attempt came with (relay.accounts.devices), if any.
    device: Mapped[str | None] = mapped_column(StoredString(32))
    # A second factor's code rather than a password: bounded per account per day.
    second_factor: Mapped[bool] = mapped_column(default=False, server_default=false())
