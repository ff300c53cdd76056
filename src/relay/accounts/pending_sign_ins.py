"""A sign-in between its password and its second factor. The browser that gave the
right password gets a token in a cookie of its own, good for five minutes: with it,
and only with it, the code can be given. It is no session: every page still sends
that browser to sign in, so a stolen password alone reaches nothing. It takes
CODE_ATTEMPTS codes at most, counted before each is checked (so codes sent at the same
moment count too); then the password must be given again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts.models import PendingSignIn
from relay.db import Database, utcnow
from relay.tenants.models import User

PENDING_LIFETIME = timedelta(minutes=5)
CODE_ATTEMPTS = 5
TOO_MANY_CODES = "Too many wrong codes. Sign in again with your password."


async def start_pending(session: AsyncSession, *, user: User) -> str:
    """A pending sign-in for the user; returns the token for its cookie."""
    # Pending sign-ins that ran out go now (anyone's: they are few and short-lived).
    await session.execute(delete(PendingSignIn).where(PendingSignIn.expires_at <= utcnow()))
    row, token = PendingSignIn.issue(PENDING_LIFETIME, user_id=user.id)
    session.add(row)
    await session.flush()
    return token


async def pending_user(session: AsyncSession, *, token: str | None) -> User | None:
    """The user a pending sign-in's token waits for, or None (missing, unknown, expired)."""
    if not token:
        return None
    return await session.scalar(
        select(User)
        .join(PendingSignIn, PendingSignIn.user_id == User.id)
        .where(PendingSignIn.usable(token))
    )


async def count_code_attempt(database: Database, *, token: str) -> bool:
    """Count one more code for the pending sign-in, committed before the code is
    checked; False (and the pending sign-in ends) once it has had CODE_ATTEMPTS."""
    async with database.sessionmaker.begin() as session:
        counted = await session.execute(
            update(PendingSignIn)
            .where(PendingSignIn.usable(token), PendingSignIn.code_attempts < CODE_ATTEMPTS)
            .values(code_attempts=PendingSignIn.code_attempts + 1)
        )
        if counted.rowcount:  # type: ignore[attr-defined]
            return True
        await session.execute(delete(PendingSignIn).where(PendingSignIn.usable(token)))
        return False


async def finish_pending(session: AsyncSession, *, token: str) -> bool:
    """Use the pending sign-in up; False when it is gone already (used by a request at
    the same moment, or expired): one pending sign-in starts one session at most."""
    result = await session.execute(delete(PendingSignIn).where(PendingSignIn.usable(token)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_pending(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Drop the user's pending sign-ins (their password just changed)."""
    await session.execute(delete(PendingSignIn).where(PendingSignIn.user_id == user_id))
