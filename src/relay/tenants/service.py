"""Creating tenants and their users; what an email, an organisation's name and a
password must be."""

from __future__ import annotations

import re
import unicodedata
import uuid

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relay.errors import ConflictError, RelayError
from relay.tenants import roles
from relay.tenants.models import Tenant, User
from relay.tenants.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from relay.text import StoredText, UnstorableText

EMAIL_TAKEN = "A user with this email already exists"
INVALID_EMAIL = "Enter a valid email address"
INVALID_TENANT_NAME = "Organisation name must be 1 to 200 characters, without control characters"
# Lower case before measuring: "İ" * 300 + "@example.com" is 612 characters once
# lowered, which the column cannot hold (an outside review's 500 on PostgreSQL).
EMAIL = StoredText.of(User.email, fold=str.lower, min_length=1)
TENANT_NAME = StoredText.of(Tenant.name, min_length=1)
# A bare address, nothing a mail header would read as more: no display name ("Name
# <a@b>"), no list (",", ";"), no group (":"), no comment or quoted part. An outside
# review had "root,x@victim.test" stored as one email and mailed to two mailboxes.
_LOCAL = r'[^@\s"(),:;<>\[\]\\]+'
_LABEL = r'[^@\s"(),:;<>\[\]\\.]+'
_EMAIL = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+{_LABEL}")


def clean_email(email: str) -> str:
    """The address as Relay keeps it (EMAIL: NFC, lower case, stripped, at most the
    column's 320 characters once so), if it is a bare address, nothing a mail header or
    a mail server reads as another one: no MIME encoded word (=?utf-8?q?bob?=@ is read
    as bob@), no invisible format character (a soft hyphen vanishes when a server
    converts the domain). RelayError (field "email") otherwise."""
    try:
        address = EMAIL.clean(email)
    except UnstorableText:
        raise RelayError(INVALID_EMAIL, field="email") from None
    if (
        _EMAIL.fullmatch(address) is None
        or "=?" in address
        or any(unicodedata.category(character) == "Cf" for character in address)
    ):
        raise RelayError(INVALID_EMAIL, field="email")
    return address


def lookup_email(email: str) -> str | None:
    """`email` as it would be stored, to look it up; None when Relay could not keep it
    (then no account has it)."""
    try:
        return clean_email(email)
    except RelayError:
        return None


def clean_tenant_name(name: str) -> str:
    """The organisation's name as kept (TENANT_NAME); RelayError (field "name") else."""
    try:
        return TENANT_NAME.clean(name)
    except UnstorableText:
        raise RelayError(INVALID_TENANT_NAME, field="name") from None


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


async def email_taken(session: AsyncSession, email: str) -> bool:
    address = lookup_email(email)
    if address is None:
        return False
    return bool(await session.scalar(select(exists().where(User.email == address))))


async def find_user(session: AsyncSession, email: str) -> User | None:
    """The user with this email (any case), if there is one."""
    address = lookup_email(email)
    if address is None:
        return None
    return await session.scalar(select(User).where(User.email == address))


async def create_user(
    session: AsyncSession, *, tenant_id: uuid.UUID, email: str, password_hash: str, role: str
) -> User:
    """A user of the tenant with a hash from `prepare_password`. Emails are unique."""
    address = clean_email(email)
    if await email_taken(session, address):
        raise ConflictError(EMAIL_TAKEN, field="email")
    user = User(tenant_id=tenant_id, email=address, password_hash=password_hash, role=role)
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
    clean_tenant_name(name)
    clean_email(email)
    password_hash = await prepare_password(password)
    return await create_tenant_with_hash(
        session, name=name, email=email, password_hash=password_hash
    )


async def create_tenant_with_hash(
    session: AsyncSession, *, name: str, email: str, password_hash: str
) -> tuple[Tenant, User]:
    """`create_tenant` with the password already hashed (`prepare_password`)."""
    tenant = Tenant(name=clean_tenant_name(name))
    session.add(tenant)
    await session.flush()
    owner = await create_user(
        session, tenant_id=tenant.id, email=email, password_hash=password_hash, role=roles.OWNER
    )
    return tenant, owner


async def has_tenants(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Tenant.id.is_not(None)))))
