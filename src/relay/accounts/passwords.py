"""Changing a password (the current one required) and resetting a forgotten one by a
single-use link, valid 30 minutes, stored as its SHA-256 like a session.

A new password ends the user's other sessions (a reset ends all of them, and any
sign-in waiting for its second factor), so whoever knew the old one is out.
Passwords are hashed and checked in argon2's thread with no transaction open: the
callers check and hash first, then call the functions that write.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts import pending_sign_ins, sessions
from relay.accounts.events import as_user, record_user_event
from relay.accounts.models import PasswordResetToken
from relay.actors import Actor
from relay.audit.actions import Action
from relay.errors import NotFoundError
from relay.mail import Mail
from relay.tenants.models import User

RESET_LIFETIME = timedelta(minutes=30)
NOT_CURRENT = "That is not your current password"
ENTER_CURRENT = "Enter your current password"
RESET_LINK_UNUSABLE = "This password reset link is invalid, expired or already used"


async def change_password(
    session: AsyncSession, *, user: User, password_hash: str, keep_session: uuid.UUID, actor: Actor
) -> int:
    """Set the user's new password (hashed by `prepare_password`); every other session
    of theirs ends, and any sign-in waiting for its second factor. Returns how many
    sessions ended."""
    await _set_password(session, user_id=user.id, password_hash=password_hash)
    await pending_sign_ins.end_pending(session, user_id=user.id)
    ended = await sessions.end_other_sessions(session, user=user, keep=keep_session)
    record_user_event(
        session, user, Action.USER_PASSWORD_CHANGED, actor, {"other_sessions_ended": ended}
    )
    return ended


async def _set_password(session: AsyncSession, *, user_id: uuid.UUID, password_hash: str) -> None:
    new_hash = update(User).where(User.id == user_id).values(password_hash=password_hash)
    await session.execute(new_hash)
    # A link asked for before the change must not undo it.
    await session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user_id))


async def create_reset_token(session: AsyncSession, *, user: User) -> tuple[str, datetime]:
    """A reset link's token for the user (the only one: earlier links stop working)
    and when it expires."""
    await session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user.id))
    row, token = PasswordResetToken.issue(RESET_LIFETIME, user_id=user.id)
    session.add(row)
    await session.flush()
    return token, row.expires_at


async def reset_link_user(session: AsyncSession, *, token: str) -> User:
    """The user an unexpired, unused reset link is for; NotFoundError otherwise."""
    user = await session.scalar(
        select(User)
        .join(PasswordResetToken, PasswordResetToken.user_id == User.id)
        .where(PasswordResetToken.usable(token))
    )
    if user is None:
        raise NotFoundError(RESET_LINK_UNUSABLE)
    return user


async def reset_password(
    session: AsyncSession, *, token: str, password_hash: str, client: Actor
) -> User:
    """Use a reset link up (one statement deletes it, so it works once) and set the new
    password; every session of the user ends. NotFoundError for a link that is not
    usable. `client` is the browser that followed the link."""
    used = await session.execute(
        delete(PasswordResetToken)
        .where(PasswordResetToken.usable(token))
        .returning(PasswordResetToken.user_id)
    )
    user_id = used.scalar()
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise NotFoundError(RESET_LINK_UNUSABLE)
    await _set_password(session, user_id=user.id, password_hash=password_hash)
    await sessions.end_all_sessions(session, user_id=user.id)
    await pending_sign_ins.end_pending(session, user_id=user.id)
    record_user_event(session, user, Action.USER_PASSWORD_RESET, as_user(user, client))
    return user


def reset_mail(email: str, link: str) -> Mail:
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    return Mail(
        to=email,
        subject="Reset your Relay password",
        body=(
            "Someone (we hope you) asked to reset the password of your Relay account.\n\n"
            f"Choose a new password here, within {minutes} minutes:\n\n{link}\n\n"
            "The link works once. If you did not ask for it, ignore this message: "
            "your password stays as it is.\n"
        ),
    )
