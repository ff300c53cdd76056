"""Checking an email and password, with brute-force limits per email and per address."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.dashboard.models import LoginFailure
from relay.db import utcnow
from relay.errors import RelayError
from relay.tenants.models import User
from relay.tenants.passwords import hash_password, verify_password
from relay.tenants.service import normalize_email

MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
INVALID_CREDENTIALS = "Invalid email or password"
TOO_MANY_FAILURES = (
    "Too many failed sign-in attempts. Sign-in is paused for 15 minutes; try again later."
)

# Compared against when the email is unknown, so both answers take the same time.
_DECOY_HASH = hash_password("decoy password that matches nothing")


class SignInRefused(RelayError):
    status_code = 401


class TooManyFailures(RelayError):
    status_code = 429


async def _too_many_failures(session: AsyncSession, *, email: str, address: str) -> bool:
    """True when the email, or the address, failed MAX_FAILURES times in the window."""
    since = utcnow() - FAILURE_WINDOW
    for same_origin in (LoginFailure.email == email, LoginFailure.address == address):
        count = await session.scalar(
            select(func.count()).where(LoginFailure.at > since, same_origin)
        )
        if (count or 0) >= MAX_FAILURES:
            return True
    return False


async def sign_in(session: AsyncSession, *, email: str, password: str, client: Actor) -> User:
    """The user these credentials belong to. SignInRefused (one message for a wrong
    email or a wrong password) or TooManyFailures otherwise. `client` is the browser
    asking; both outcomes are audit events of the user's tenant (an unknown email
    belongs to no tenant and leaves none)."""
    email = normalize_email(email)
    address = client.client_address or "unknown"
    if await _too_many_failures(session, email=email, address=address):
        raise TooManyFailures(TOO_MANY_FAILURES)
    user = await session.scalar(select(User).where(User.email == email))
    password_ok = verify_password(user.password_hash if user else _DECOY_HASH, password)
    if user is None or not password_ok:
        session.add(LoginFailure(email=email[:320], address=address[:64], at=utcnow()))
        if user is not None:
            _audit(session, user, Action.USER_SIGN_IN_FAILED, client)
        await session.flush()
        raise SignInRefused(INVALID_CREDENTIALS)
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    signed_in = Actor.user(
        user.email, client_address=client.client_address, user_agent=client.user_agent
    )
    _audit(session, user, Action.USER_SIGNED_IN, signed_in)
    return user


def _audit(session: AsyncSession, user: User, action: Action, actor: Actor) -> None:
    target = audit.Target("user", user.id, user.email)
    audit.record(session, tenant_id=user.tenant_id, action=action, actor=actor, target=target)
