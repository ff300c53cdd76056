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
  before its password is checked and counts against its address and its email until
  it succeeds, so concurrent guesses see each other: 40 at once cannot slip past a
  limit of 10. The per-email back-off counts checked failures, and waits from the
  latest attempt, checked or still being checked: once an email is in back-off,
  guesses sent at the same moment from many addresses get one check between them,
  not one each; below 5 failures nothing waits, so sign-ins to one account at the
  same moment do not slow each other down.
- The password is checked off the event loop with no transaction open.
- A second factor's code (relay.accounts.two_factor) is one more attempt of the same
  kind: it counts, and is limited, exactly as a password is; and at most
  SECOND_FACTOR_DAILY_LIMIT wrong authenticator codes an account may get in a day
  from browsers it does not know, and as many from each it knows (an outside review:
  one guess every 30 s, from new addresses, is 2,880 a day). Attempts still being
  checked count, so codes sent at one moment cannot slip past it. Recovery codes (50
  bits each) are not bounded so: a guesser who used up the day's codes cannot keep
  the owner from their recovery code.
- A browser that signed in to the account before (a device cookie,
  relay.accounts.devices) is counted apart: the failures of everyone else neither
  slow it down nor pause its address, and its own failures slow only it (per device,
  as above, daily codes included). So an owner is never locked out by someone
  else's guesses, and a stolen device cookie buys no more guesses than a browser.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts.devices import Device, DeviceClaim, known_device
from relay.accounts.events import as_user, record_user_event
from relay.accounts.models import LoginFailure
from relay.actors import Actor
from relay.audit.actions import Action
from relay.db import Database, utcnow
from relay.errors import RelayError
from relay.tenants import service as tenants_service
from relay.tenants.models import User
from relay.tenants.passwords import DECOY_HASH, verify_password

ADDRESS_FAILURE_LIMIT = 10
EMAIL_BACKOFF_AFTER = 5
FAILURE_WINDOW = timedelta(minutes=15)
SECOND_FACTOR_DAILY_LIMIT = 10
SECOND_FACTOR_WINDOW = timedelta(days=1)
INVALID_CREDENTIALS = "Invalid email or password"
ADDRESS_PAUSED = (
    "Too many failed sign-in attempts from your network. Sign-in is paused for 15 minutes; "
    "try again later."
)
CODES_EXHAUSTED = (
    "Too many wrong codes for this account today. Sign in from a browser you used "
    "before, or try again in {hours} hours."
)


class SignInRefused(RelayError):
    status_code = 401
    code = "sign_in_refused"


class TooManyFailures(RelayError):
    status_code = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class _Failures:
    from_address: int
    for_email: int
    latest_for_email: datetime | None
    # Wrong codes of the last day, and when the oldest of them was.
    codes_today: int
    oldest_code_today: datetime | None


def _backoff_seconds(failures: int, maximum: float) -> float:
    """The wait after the latest failure, once an email has failed `failures` times."""
    if failures < EMAIL_BACKOFF_AFTER:
        return 0.0
    return min(2.0 ** (failures - EMAIL_BACKOFF_AFTER), maximum)


async def _reserve_attempt(
    database: Database,
    *,
    email: str,
    address: str,
    device: DeviceClaim | None,
    second_factor: bool,
) -> uuid.UUID:
    """Record the attempt, committed at once, before the password is checked."""
    attempt = LoginFailure(
        id=uuid.uuid4(),
        email=email,
        address=address,
        at=utcnow(),
        pending=True,
        device=device.id if device else None,
        second_factor=second_factor,
    )
    async with database.sessionmaker.begin() as session:
        session.add(attempt)
    return attempt.id


async def _failures(
    session: AsyncSession, *, email: str, address: str, device: Device | None, mine: uuid.UUID
) -> _Failures:
    """What counts against this attempt: for a known device, its own failures only;
    for any other browser, its address's and its email's (a known device's too)."""
    now = utcnow()
    since = now - FAILURE_WINDOW
    counted = LoginFailure.device == device.id if device else LoginFailure.email == email
    from_address = 0
    if device is None:
        recent = select(func.count()).where(LoginFailure.at > since)
        from_address = await session.scalar(recent.where(LoginFailure.address == address)) or 0
    others = (counted, LoginFailure.at > since, LoginFailure.id != mine)
    checked = (*others, LoginFailure.pending.is_(False))
    for_email = await session.scalar(select(func.count()).where(*checked))
    # Attempts still being checked count as the latest: in back-off, one at a time.
    latest = await session.scalar(select(func.max(LoginFailure.at)).where(*others))
    codes = (
        counted,
        LoginFailure.second_factor.is_(True),
        LoginFailure.id != mine,
        LoginFailure.at > now - SECOND_FACTOR_WINDOW,
    )
    codes_today, oldest = (
        await session.execute(select(func.count(), func.min(LoginFailure.at)).where(*codes))
    ).one()
    return _Failures(from_address, for_email or 0, latest, codes_today or 0, oldest)


async def _forget_attempt(database: Database, attempt: uuid.UUID) -> None:
    """Drop the reserved attempt: refused unchecked, or it succeeded."""
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))


# Is this the user's password, or code? Given None for an unknown email, where it must
# take the same time as for a known one.
Check = Callable[[User | None], Awaitable[bool]]


async def checked_sign_in(
    database: Database,
    *,
    email: str,
    client: Actor,
    device: DeviceClaim | None,
    backoff_max: float,
    check: Check,
    refusal: str,
    details: dict[str, str] | None = None,
    second_factor: bool = False,
) -> User:
    """The user of `email`, if `check` accepts what they gave, within the limits above.
    SignInRefused(`refusal`) or TooManyFailures otherwise; a refusal for an existing
    user is an audit event of their tenant (with `details`). `client` is the browser
    asking, `device` what its device cookie claims (relay.dashboard.web.device_claim),
    known only if it is the user's; `second_factor` when `check` is an authenticator
    code's."""
    # An address Relay could not keep has no account: its failures count as those of
    # "" (and of the client's address), never stored as typed.
    email = tenants_service.lookup_email(email) or ""
    address = client.client_address or "unknown"
    attempt = await _reserve_attempt(
        database, email=email, address=address, device=device, second_factor=second_factor
    )
    async with database.read_sessionmaker() as session:
        user = await tenants_service.find_user(session, email)
        known = known_device(device, user)
        failures = await _failures(
            session, email=email, address=address, device=known, mine=attempt
        )
    refused = _refusal(failures, backoff_max, second_factor)
    if refused is not None:
        await _forget_attempt(database, attempt)
        raise refused
    accepted = await check(user)
    if user is None or not accepted:
        async with database.sessionmaker.begin() as session:
            # Checked: a failure of the email now, for its back-off.
            await session.execute(
                update(LoginFailure)
                .where(LoginFailure.id == attempt)
                .values(pending=False, at=utcnow())
            )
            if user is not None:
                record_user_event(session, user, Action.USER_SIGN_IN_FAILED, client, details)
        raise SignInRefused(refusal)
    await _forget_attempt(database, attempt)
    return user


def _refusal(
    failures: _Failures, backoff_max: float, second_factor: bool
) -> TooManyFailures | None:
    """Why the attempt is refused unchecked, if it is."""
    if failures.from_address > ADDRESS_FAILURE_LIMIT:
        return TooManyFailures(ADDRESS_PAUSED)
    if second_factor and failures.codes_today >= SECOND_FACTOR_DAILY_LIMIT:
        oldest = failures.oldest_code_today or utcnow()
        seconds = max(math.ceil((oldest + SECOND_FACTOR_WINDOW - utcnow()).total_seconds()), 1)
        return TooManyFailures(
            CODES_EXHAUSTED.format(hours=math.ceil(seconds / 3600)),
            headers={"Retry-After": str(seconds)},
        )
    wait = _backoff_seconds(failures.for_email, backoff_max)
    if failures.latest_for_email is not None:
        wait -= (utcnow() - failures.latest_for_email).total_seconds()
    if wait <= 0:
        return None
    seconds = math.ceil(wait)
    return TooManyFailures(
        f"Too many failed sign-in attempts for this account. Try again in {seconds} "
        f"second{'s' if seconds != 1 else ''}.",
        headers={"Retry-After": str(seconds)},
    )


async def sign_in(
    database: Database,
    *,
    email: str,
    password: str,
    client: Actor,
    device: DeviceClaim | None,
    backoff_max: float,
) -> User:
    """The user these credentials belong to; SignInRefused (one message for a wrong
    email or a wrong password) or TooManyFailures otherwise. Their session starts
    with `record_sign_in`, or after their second factor."""

    async def password_matches(user: User | None) -> bool:
        # No transaction is open while argon2 works (in a thread).
        return await verify_password(user.password_hash if user else DECOY_HASH, password)

    return await checked_sign_in(
        database,
        email=email,
        client=client,
        device=device,
        backoff_max=backoff_max,
        check=password_matches,
        refusal=INVALID_CREDENTIALS,
    )


async def record_sign_in(session: AsyncSession, user: User, client: Actor) -> None:
    """In the transaction that starts the session: the audit event of a successful
    sign-in, and the email's failed passwords forgiven (only now: a right password with
    a second factor still to come does not reset the back-off). Wrong codes are not:
    each counts toward the day's bound however often the owner signs in."""
    forgiven = (LoginFailure.email == user.email, LoginFailure.second_factor.is_(False))
    await session.execute(delete(LoginFailure).where(*forgiven))
    record_user_event(session, user, Action.USER_SIGNED_IN, as_user(user, client))
