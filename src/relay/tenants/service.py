"""Creating tenants with their owner and first key; looking up users."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.errors import ConflictError, RelayError
from relay.tenants.models import Tenant, User
from relay.tenants.passwords import MIN_PASSWORD_LENGTH, hash_password

INITIAL_KEY_NAME = "Initial key"
OWNER = "owner"
EMAIL_TAKEN = "A user with this email already exists"


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: User
    api_key: ApiKey
    full_key: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_email(email: str) -> None:
    if len(email) > 320 or _EMAIL.fullmatch(email.strip()) is None:
        raise RelayError("Enter a valid email address")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RelayError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")


async def email_taken(session: AsyncSession, email: str) -> bool:
    return bool(await session.scalar(select(exists().where(User.email == normalize_email(email)))))


async def create_tenant(
    session: AsyncSession, *, name: str, email: str, password: str
) -> NewTenant:
    """A tenant, its owner user and a first API key named "Initial key"."""
    check_email(email)
    check_password(password)
    if await email_taken(session, email):
        raise ConflictError(EMAIL_TAKEN)
    tenant = Tenant(name=name.strip())
    session.add(tenant)
    await session.flush()
    owner = User(
        tenant_id=tenant.id,
        email=normalize_email(email),
        password_hash=hash_password(password),
        role=OWNER,
    )
    session.add(owner)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same email, signed up a moment ago
        raise ConflictError(EMAIL_TAKEN) from exc
    api_key, full_key = await auth_service.create_api_key(
        session,
        tenant_id=tenant.id,
        data=ApiKeyCreate(name=INITIAL_KEY_NAME),
        created_by=f"user:{owner.id}",
    )
    return NewTenant(tenant=tenant, owner=owner, api_key=api_key, full_key=full_key)


async def has_tenants(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Tenant.id.is_not(None)))))
