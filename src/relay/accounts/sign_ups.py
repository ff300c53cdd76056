"""Sign-up confirmed by email (when Relay can send mail): nothing is created until the
link in the message is followed, and the answer to the form is the same whether the
email is new or already has an account; only the message differs (a link to finish
signing up, or a note that the account exists, with where to sign in or reset).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts.models import PendingSignUp
from relay.db import utcnow
from relay.errors import NotFoundError
from relay.mail import Mail
from relay.tenants import service as tenants_service
from relay.tenants.models import User

CONFIRMATION_LIFETIME = timedelta(hours=24)
LINK_UNUSABLE = "This sign-up link is invalid, expired or already used. Sign up again"


async def request_sign_up(
    session: AsyncSession, *, organisation: str, email: str, password_hash: str
) -> str | None:
    """Keep a sign-up until its email is confirmed; returns the link's token, or None
    when the email already has an account (the caller mails a note instead). The
    password was hashed before, whichever it is, so both take the same time."""
    email = tenants_service.normalize_email(email)
    if await tenants_service.email_taken(session, email):
        return None
    now = utcnow()
    # One pending sign-up per email (the latest), and none that ran out.
    await session.execute(
        delete(PendingSignUp).where(
            (PendingSignUp.email == email) | (PendingSignUp.expires_at <= now)
        )
    )
    row, token = PendingSignUp.issue(
        CONFIRMATION_LIFETIME,
        email=email,
        organisation=organisation.strip(),
        password_hash=password_hash,
    )
    session.add(row)
    await session.flush()
    return token


async def find_sign_up(session: AsyncSession, *, token: str) -> PendingSignUp:
    """The unexpired sign-up of a link's token; NotFoundError otherwise."""
    pending = await session.scalar(select(PendingSignUp).where(PendingSignUp.usable(token)))
    if pending is None:
        raise NotFoundError(LINK_UNUSABLE)
    return pending


async def confirm_sign_up(session: AsyncSession, *, token: str) -> User:
    """Create the tenant and its owner of a pending sign-up, using the link up (one
    statement deletes it, so it works once). NotFoundError for a link that is not
    usable; ConflictError when the email got an account meanwhile."""
    used = await session.execute(
        delete(PendingSignUp)
        .where(PendingSignUp.usable(token))
        .returning(PendingSignUp.organisation, PendingSignUp.email, PendingSignUp.password_hash)
    )
    pending = used.first()
    if pending is None:
        raise NotFoundError(LINK_UNUSABLE)
    organisation, email, password_hash = pending
    _tenant, owner = await tenants_service.create_tenant_with_hash(
        session, name=organisation, email=email, password_hash=password_hash
    )
    return owner


def confirmation_mail(email: str, link: str) -> Mail:
    hours = int(CONFIRMATION_LIFETIME.total_seconds() // 3600)
    return Mail(
        to=email,
        subject="Finish creating your Relay account",
        body=(
            "Someone (we hope you) signed up for Relay with this address.\n\n"
            f"Follow this link within {hours} hours to create the account:\n\n{link}\n\n"
            "If it was not you, ignore this message: nothing is created without it.\n"
        ),
    )


def account_exists_mail(email: str, sign_in_link: str, reset_link: str) -> Mail:
    return Mail(
        to=email,
        subject="You already have a Relay account",
        body=(
            "Someone (we hope you) tried to sign up for Relay with this address, which "
            "already has an account. Nothing was changed.\n\n"
            f"Sign in: {sign_in_link}\nForgot your password? {reset_link}\n"
        ),
    )
