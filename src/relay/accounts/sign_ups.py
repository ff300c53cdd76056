"""Sign-up confirmed by email (when Relay can send mail). The sign-up form asks only
for the address; the link mailed to it opens the page where the organisation's name
and the password are chosen. So whoever sets the password is whoever reads that
inbox: someone else who signs up with the address only has links sent to its owner,
and any of them works for the owner (an outside review had the newest sign-up's
password win, and three of them lock the owner out for an hour).

The answer to the form is the same whether the email is new or already has an
account; only the message differs (a link to finish signing up, or a note that the
account exists, with where to sign in or reset).
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


async def request_sign_up(session: AsyncSession, *, email: str) -> str | None:
    """A new link to confirm `email` (an address from `clean_email`): returns its token,
    or None when the email already has an account (the caller mails a note instead).
    The address's earlier links keep working until one of them is used."""
    if await tenants_service.email_taken(session, email):
        return None
    await session.execute(delete(PendingSignUp).where(PendingSignUp.expires_at <= utcnow()))
    row, token = PendingSignUp.issue(CONFIRMATION_LIFETIME, email=email)
    session.add(row)
    await session.flush()
    return token


async def find_sign_up(session: AsyncSession, *, token: str) -> PendingSignUp:
    """The unexpired sign-up of a link's token; NotFoundError otherwise."""
    pending = await session.scalar(select(PendingSignUp).where(PendingSignUp.usable(token)))
    if pending is None:
        raise NotFoundError(LINK_UNUSABLE)
    return pending


async def confirm_sign_up(
    session: AsyncSession, *, token: str, organisation: str, password_hash: str
) -> User:
    """Create the tenant and its owner with what the link's follower chose, using up
    every link of the address (one statement takes the link, so it works once).
    RelayError (field "name") for an unusable name, NotFoundError for a link that is
    not usable, ConflictError when the email got an account meanwhile."""
    name = tenants_service.clean_tenant_name(organisation)
    used = await session.execute(
        delete(PendingSignUp).where(PendingSignUp.usable(token)).returning(PendingSignUp.email)
    )
    email = used.scalar_one_or_none()
    if email is None:
        raise NotFoundError(LINK_UNUSABLE)
    await session.execute(delete(PendingSignUp).where(PendingSignUp.email == email))
    _tenant, owner = await tenants_service.create_tenant_with_hash(
        session, name=name, email=email, password_hash=password_hash
    )
    return owner


def confirmation_mail(email: str, link: str) -> Mail:
    hours = int(CONFIRMATION_LIFETIME.total_seconds() // 3600)
    return Mail(
        to=email,
        subject="Finish creating your Relay account",
        body=(
            "Someone (we hope you) signed up for Relay with this address.\n\n"
            f"Follow this link within {hours} hours to choose your organisation's name "
            f"and your password:\n\n{link}\n\n"
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
