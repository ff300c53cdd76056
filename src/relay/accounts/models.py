"""ORM models of account security. Every token, code and secret here is stored as a
digest or encrypted: never as the user was given it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Self

from sqlalchemy import BigInteger, ColumnElement, ForeignKey, Index, Integer, and_, false
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from relay.db import Base, StoredString, UTCDateTime, utcnow
from relay.tokens import new_token, token_hash


class _UserOwned:
    @declared_attr
    def user_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class _LinkToken:
    """A row found by a link's or cookie's token (256 random bits, only its SHA-256
    kept), until it expires."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @classmethod
    def usable(cls, token: str) -> ColumnElement[bool]:
        """The row of `token`, if it has not expired."""
        return and_(cls.token_hash == token_hash(token), cls.expires_at > utcnow())

    @classmethod
    def issue(cls, lifetime: timedelta, **values: object) -> tuple[Self, str]:
        """A new row good for `lifetime`, and its token (to hand out once)."""
        token, now = new_token(), utcnow()
        # The mapped subclass takes its columns as keywords; this mixin alone does not.
        make: Callable[..., Self] = cls
        row = make(
            token_hash=token_hash(token), created_at=now, expires_at=now + lifetime, **values
        )
        return row, token


class WebSession(_LinkToken, _UserOwned, Base):
    """A signed-in browser, by its cookie's token."""

    __tablename__ = "web_sessions"

    # Refreshed at most once a minute, with the address it was last seen from.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_address: Mapped[str | None] = mapped_column(StoredString(64))
    user_agent: Mapped[str | None] = mapped_column(StoredString(200))


class PendingSignIn(_LinkToken, _UserOwned, Base):
    """A password that was right, waiting for its second factor: a browser holding the
    cookie's token may give the code for a few minutes. It is no session."""

    __tablename__ = "pending_sign_ins"

    # Codes given so far, counted before each is checked (see pending_sign_ins).
    code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PasswordResetToken(_LinkToken, _UserOwned, Base):
    """A single-use link to choose a new password; deleted when used."""

    __tablename__ = "password_reset_tokens"


class PendingSignUp(_LinkToken, Base):
    """A link mailed to confirm an address, and nothing else: the organisation and the
    password are chosen by whoever follows the link (the address's owner), never by
    whoever asked for it. Every unexpired link of an address works, so links asked
    for by someone else lock no one out."""

    __tablename__ = "pending_sign_ups"

    email: Mapped[str] = mapped_column(StoredString(320), index=True)


class TwoFactor(Base):
    """A user's TOTP authenticator, present only while two-factor sign-in is on."""

    __tablename__ = "two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # AES-GCM with a key derived from RELAY_SECRET_KEY, bound to the user (sealing.py).
    secret: Mapped[str] = mapped_column(StoredString(200))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The latest time step whose code was accepted: no code of it or before is again.
    last_used_step: Mapped[int] = mapped_column(BigInteger)


class RecoveryCode(_UserOwned, Base):
    """One single-use recovery code, as its keyed digest; deleted when used."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code_hash: Mapped[str] = mapped_column(StoredString(64))


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
