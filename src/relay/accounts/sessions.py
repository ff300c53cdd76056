"""Server-side browser sessions: a random token in a cookie, stored as its SHA-256.

A session ends 14 days after sign-in whatever happens, after 24 hours unused, at
sign-out, when its user ends it (Settings > Account), and with every other session
of the user when the password changes or two-factor sign-in is turned on. "Last
seen" is written at most once a minute per session, so a busy browser costs one
UPDATE a minute, not one per page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts.events import record_user_event
from relay.accounts.models import TwoFactor, WebSession
from relay.actors import Actor
from relay.audit.actions import Action
from relay.db import utcnow
from relay.errors import NotFoundError
from relay.tenants.models import Tenant, User
from relay.tokens import token_hash

SESSION_LIFETIME = timedelta(days=14)
IDLE_TIMEOUT = timedelta(hours=24)
LAST_SEEN_EVERY = timedelta(minutes=1)
LISTED_AT_MOST = 100
SESSION_NOT_FOUND = "That session has already ended"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a browser's session belongs to."""

    user: User
    session_id: uuid.UUID
    # The tenant requires two-factor sign-in and this user has not turned it on.
    two_factor_missing: bool


def _active(now: datetime) -> ColumnElement[bool]:
    return and_(WebSession.expires_at > now, WebSession.last_seen_at > now - IDLE_TIMEOUT)


def _of_token(token: str, now: datetime) -> ColumnElement[bool]:
    return and_(WebSession.usable(token), _active(now))


async def start_session(session: AsyncSession, *, user: User, client: Actor) -> str:
    """A new session for the user, from the browser `client`; returns the token for the
    cookie (a new one each sign-in)."""
    now = utcnow()
    # The user's ended sessions go now: nothing else would delete them.
    await session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, not_(_active(now)))
    )
    row, token = WebSession.issue(
        SESSION_LIFETIME,
        user_id=user.id,
        last_seen_at=now,
        client_address=client.client_address,
        user_agent=client.user_agent,
    )
    session.add(row)
    await session.flush()
    return token


async def resolve(
    session: AsyncSession, *, token: str | None, client_address: str
) -> SignedIn | None:
    """The signed-in user of a cookie's token (None when missing, unknown, expired or
    idle too long), noting the session as seen from `client_address`."""
    if not token:
        return None
    now = utcnow()
    query = (
        select(User, WebSession.id, WebSession.last_seen_at, Tenant.require_two_factor,
               TwoFactor.user_id)
        .join(WebSession, WebSession.user_id == User.id)
        .join(Tenant, Tenant.id == User.tenant_id)
        .outerjoin(TwoFactor, TwoFactor.user_id == User.id)
        .where(_of_token(token, now))
    )  # fmt: skip
    row = (await session.execute(query)).first()
    if row is None:
        return None
    user, session_id, last_seen_at, required, two_factor = row
    if now - last_seen_at >= LAST_SEEN_EVERY:
        await session.execute(
            update(WebSession)
            .where(WebSession.id == session_id)
            .values(last_seen_at=now, client_address=client_address[:64])
        )
    return SignedIn(user, session_id, two_factor_missing=required and two_factor is None)


async def list_sessions(session: AsyncSession, *, user_id: uuid.UUID) -> list[WebSession]:
    """The user's active sessions, most recently seen first."""
    query = (
        select(WebSession)
        .where(WebSession.user_id == user_id, _active(utcnow()))
        .order_by(WebSession.last_seen_at.desc(), WebSession.id)
        .limit(LISTED_AT_MOST)
    )
    return list((await session.scalars(query)).all())


async def end_session(session: AsyncSession, *, token: str | None) -> None:
    """Sign out: the session row is deleted, so the token is worthless from now on."""
    if token:
        await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


async def end_session_by_id(
    session: AsyncSession, *, user: User, session_id: uuid.UUID, actor: Actor
) -> None:
    """End one of the user's own sessions (never another user's: NotFoundError)."""
    result = await session.execute(
        delete(WebSession).where(WebSession.id == session_id, WebSession.user_id == user.id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(SESSION_NOT_FOUND)
    record_user_event(session, user, Action.USER_SESSION_ENDED, actor, {"sessions": 1})


async def end_other_sessions(
    session: AsyncSession, *, user: User, keep: uuid.UUID, actor: Actor | None = None
) -> int:
    """End every session of the user but `keep`; returns how many ended. With `actor`,
    an audit event says who ended them (a password change records its own)."""
    result = await session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.id != keep)
    )
    await _forget_devices(session, user_id=user.id)
    ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if actor is not None and ended:
        record_user_event(session, user, Action.USER_SESSION_ENDED, actor, {"sessions": ended})
    return ended


async def end_all_sessions(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """End every session of the user (a reset password, a removed member)."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    await _forget_devices(session, user_id=user_id)


async def _forget_devices(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    # Sessions end for a changed credential (or on request): the browsers that signed
    # in before it are no longer known devices either (relay.accounts.devices).
    await session.execute(
        update(User).where(User.id == user_id).values(devices_valid_after=utcnow())
    )
