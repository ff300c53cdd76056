"""Server-side browser sessions: a random token in a cookie, stored hashed, 14 days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.dashboard.models import WebSession
from relay.dashboard.tokens import new_token, token_hash
from relay.db import utcnow
from relay.tenants.models import User

SESSION_LIFETIME = timedelta(days=14)


async def start_session(session: AsyncSession, *, user: User) -> str:
    """A new session for the user; returns the token for the cookie (a new one each sign-in)."""
    token = new_token()
    now = utcnow()
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str | None) -> User | None:
    """The signed-in user of a cookie's token, or None when missing, unknown or expired."""
    if not token:
        return None
    query = (
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == token_hash(token), WebSession.expires_at > utcnow())
    )
    return await session.scalar(query)


async def end_session(session: AsyncSession, *, token: str | None) -> None:
    """Sign out: the session row is deleted, so the token is worthless from now on."""
    if token:
        await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))
