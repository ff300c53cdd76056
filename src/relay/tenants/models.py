"""ORM models for tenants, the users who sign in to them, and the invitations that
bring new members in."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString, TenantOwned, UTCDateTime, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(StoredString(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Every member must sign in with a second factor (set by the owner).
    require_two_factor: Mapped[bool] = mapped_column(default=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    # Stored lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(StoredString(320), unique=True)
    password_hash: Mapped[str] = mapped_column(StoredString(200))
    role: Mapped[str] = mapped_column(StoredString(20), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Device cookies issued until then no longer count as known (relay.accounts.devices).
    devices_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # The role the new member gets (relay.tenants.roles), chosen by the inviter.
    role: Mapped[str] = mapped_column(StoredString(20), default="developer")
