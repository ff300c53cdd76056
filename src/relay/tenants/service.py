"""Creating tenants and their users; checking credentials' shape."""

from __future__ import annotations

import re
import unicodedata
import uuid

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relay.errors import ConflictError, RelayError
from relay.schemas import has_control_characters
from relay.tenants.models import Tenant, User
from relay.tenants.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password

OWNER = "owner"
MEMBER = "member"
EMAIL_TAKEN = "A user with this email already exists"
# A bare address, nothing a mail header would read as more: no display name ("Name
# <a@b>"), no list (",", ";"), no group (":"), no comment or quoted part. An outside
# review had "root,x@victim.test" stored as one email and mailed to two mailboxes.
_LOCAL = r'[^@\s"(),:;<>\[\]\\]+'
_LABEL = r'[^@\s"(),:;<>\[\]\\.]+'
_EMAIL = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+{_LABEL}")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> None:
    """A bare address, nothing a mail header or a mail server reads as another one: no
    MIME encoded word (=?utf-8?q?bob?=@ is read as bob@), no invisible format character
    (a soft hyphen vanishes when a server converts the domain)."""
    if (
        len(email) > 320
        or _EMAIL.fullmatch(email.strip()) is None
        or has_control_characters(email)
        or "=?" in email
        or any(unicodedata.category(character) == "Cf" for character in email)
    ):
        raise RelayError("Enter a valid email address", field="email")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RelayError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise RelayError(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )


async def prepare_password(password: str) -> str:
    """The argon2id hash of a password fit to use. Call it before the transaction
    that stores it: hashing takes a thread for about 125 ms."""
    check_password(password)
    return await hash_password(password)


def check_tenant_name(name: str) -> None:
    if not name.strip() or len(name.strip()) > 200 or has_control_characters(name):
        raise RelayError(
            "Organisation name must be 1 to 200 characters, without control characters",
            field="name",
        )


async def email_taken(session: AsyncSession, email: str) -> bool:
    return bool(await session.scalar(select(exists().where(User.email == normalize_email(email)))))


async def find_user(session: AsyncSession, email: str) -> User | None:
    """The user with this email (any case), if there is one."""
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def create_user(
    session: AsyncSession, *, tenant_id: uuid.UUID, email: str, password_hash: str, role: str
) -> User:
    """A user of the tenant with a hash from `prepare_password`. Emails are unique."""
    check_email(email)
    if await email_taken(session, email):
        raise ConflictError(EMAIL_TAKEN, field="email")
    user = User(
        tenant_id=tenant_id,
        email=normalize_email(email),
        password_hash=password_hash,
        role=role,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same email, signed up a moment ago
        raise ConflictError(EMAIL_TAKEN, field="email") from exc
    return user


async def create_tenant(
    session: AsyncSession, *, name: str, email: str, password: str
) -> tuple[Tenant, User]:
    """A tenant and its owner user. The password is hashed before the session is used,
    so no transaction waits on argon2; on an error the caller's transaction rolls
    back, so no tenant is left without its owner."""
    check_tenant_name(name)
    check_email(email)
    password_hash = await prepare_password(password)
    return await create_tenant_with_hash(
        session, name=name, email=email, password_hash=password_hash
    )


async def create_tenant_with_hash(
    session: AsyncSession, *, name: str, email: str, password_hash: str
) -> tuple[Tenant, User]:
    """`create_tenant` with the password already hashed (`prepare_password`)."""
    check_tenant_name(name)
    tenant = Tenant(name=name.strip())
    session.add(tenant)
    await session.flush()
    owner = await create_user(
        session, tenant_id=tenant.id, email=email, password_hash=password_hash, role=OWNER
    )
    return tenant, owner


async def has_tenants(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Tenant.id.is_not(None)))))
