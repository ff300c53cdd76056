"""Checking an email and password, with limits that stop guessing without letting
anyone lock an owner out.

- Per client address, every attempt (not only failures) is counted in the shared
  windows (RELAY_SIGNIN_ATTEMPT_LIMIT per RELAY_SIGNIN_ATTEMPT_WINDOW seconds), and
  10 failures in 15 minutes stop the address for the rest of the window: one address
  is hard-limited.
- Per email, failures only slow sign-in down: after 5 in 15 minutes, each attempt
  must wait 1, 2, 4 ... seconds after the latest failure, at most
  RELAY_SIGNIN_BACKOFF_MAX (30 s). Someone guessing from many addresses cannot lock
  the owner out; the owner gets through within 30 s from anywhere.
- Failures are counted atomically: an attempt is recorded (committed, pending)
  before its password is checked and counts against its address until it succeeds,
  so concurrent guesses see each other (40 at once cannot slip past a limit of 10).
  The per-email back-off counts checked failures only, so sign-ins to one account
  at the same moment do not slow each other down.
- The password is checked off the event loop with no transaction open.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.dashboard.models import LoginFailure
from relay.db import Database, utcnow
from relay.errors import RelayError
from relay.tenants.models import User
from relay.tenants.passwords import DECOY_HASH, verify_password
from relay.tenants.service import normalize_email

ADDRESS_FAILURE_LIMIT = 10
EMAIL_BACKOFF_AFTER = 5
FAILURE_WINDOW = timedelta(minutes=15)
INVALID_CREDENTIALS = "Invalid email or password"
ADDRESS_PAUSED = (
    "Too many failed sign-in attempts from your network. Sign-in is paused for 15 minutes; "
    "try again later."
)


class SignInRefused(RelayError):
    status_code = 401


class TooManyFailures(RelayError):
    status_code = 429


@dataclass(frozen=True)
class _Failures:
    from_address: int
    for_email: int
    latest_for_email: datetime | None


def _backoff_seconds(failures: int, maximum: float) -> float:
    """The wait after the latest failure, once an email has failed `failures` times."""
    if failures < EMAIL_BACKOFF_AFTER:
        return 0.0
    return min(2.0 ** (failures - EMAIL_BACKOFF_AFTER), maximum)


async def _reserve_attempt(database: Database, *, email: str, address: str) -> uuid.UUID:
    """Record the attempt, committed at once, before the password is checked."""
    attempt = LoginFailure(
        id=uuid.uuid4(), email=email[:320], address=address[:64], at=utcnow(), pending=True
    )
    async with database.sessionmaker.begin() as session:
        session.add(attempt)
    return attempt.id


async def _failures(
    session: AsyncSession, *, email: str, address: str, mine: uuid.UUID
) -> _Failures:
    since = utcnow() - FAILURE_WINDOW
    recent = select(func.count()).where(LoginFailure.at > since)
    from_address = await session.scalar(recent.where(LoginFailure.address == address[:64]))
    others = (
        LoginFailure.email == email[:320],
        LoginFailure.at > since,
        LoginFailure.pending.is_(False),
        LoginFailure.id != mine,
    )
    for_email = await session.scalar(select(func.count()).where(*others))
    latest = await session.scalar(select(func.max(LoginFailure.at)).where(*others))
    return _Failures(from_address or 0, for_email or 0, latest)


async def _forget_attempt(
    database: Database, attempt: uuid.UUID, *, email: str | None = None
) -> None:
    """Drop the reserved attempt (refused unchecked, or it succeeded: then the email's
    failures are forgiven too)."""
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
        if email is not None:
            await session.execute(delete(LoginFailure).where(LoginFailure.email == email[:320]))


async def sign_in(
    database: Database, *, email: str, password: str, client: Actor, backoff_max: float
) -> User:
    """The user these credentials belong to, after the sign-in is recorded (session,
    audit event). SignInRefused (one message for a wrong email or a wrong password) or
    TooManyFailures otherwise. `client` is the browser asking; both outcomes are audit
    events of the user's tenant (an unknown email belongs to no tenant)."""
    email = normalize_email(email)
    address = client.client_address or "unknown"
    attempt = await _reserve_attempt(database, email=email, address=address)
    async with database.read_sessionmaker() as session:
        failures = await _failures(session, email=email, address=address, mine=attempt)
        user = await session.scalar(select(User).where(User.email == email))
    wait = _backoff_seconds(failures.for_email, backoff_max)
    if failures.latest_for_email is not None:
        wait -= (utcnow() - failures.latest_for_email).total_seconds()
    if failures.from_address > ADDRESS_FAILURE_LIMIT or wait > 0:
        await _forget_attempt(database, attempt)
        if failures.from_address > ADDRESS_FAILURE_LIMIT:
            raise TooManyFailures(ADDRESS_PAUSED)
        seconds = math.ceil(wait)
        raise TooManyFailures(
            f"Too many failed sign-in attempts for this account. Try again in {seconds} "
            f"second{'s' if seconds != 1 else ''}.",
            headers={"Retry-After": str(seconds)},
        )
    # No transaction is open while argon2 works (in a thread).
    password_ok = await verify_password(user.password_hash if user else DECOY_HASH, password)
    if user is None or not password_ok:
        async with database.sessionmaker.begin() as session:
            # Checked: a failure of the email now, for its back-off.
            await session.execute(
                update(LoginFailure)
                .where(LoginFailure.id == attempt)
                .values(pending=False, at=utcnow())
            )
            if user is not None:
                _audit(session, user, Action.USER_SIGN_IN_FAILED, client)
        raise SignInRefused(INVALID_CREDENTIALS)
    await _forget_attempt(database, attempt, email=email)
    return user


def record_sign_in(session: AsyncSession, user: User, client: Actor) -> None:
    """The audit event of a successful sign-in, in the transaction that starts the session."""
    signed_in = Actor.user(
        user.email, client_address=client.client_address, user_agent=client.user_agent
    )
    _audit(session, user, Action.USER_SIGNED_IN, signed_in)


def _audit(session: AsyncSession, user: User, action: Action, actor: Actor) -> None:
    target = audit.Target("user", user.id, user.email)
    audit.record(session, tenant_id=user.tenant_id, action=action, actor=actor, target=target)
