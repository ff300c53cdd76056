"""An organisation with a member of each role, keys with an expiry or a quota, and a
turn of the notices' sweep and sender called directly (no background timing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.schemas import ApiKeyCreate, Quota
from relay.config import Settings
from relay.db import Database
from relay.mail import mailer_for
from relay.notices import sender, sweeps
from relay.tenants.models import User
from tests.accounts.helpers import make_owner
from tests.dashboard.helpers import new_email
from tests.factories import set_key_expiry
from tests.mail_server import SENDER, MailServer


@dataclass(frozen=True)
class Organisation:
    tenant_id: uuid.UUID
    owner: str
    admin: str
    developer: str
    viewer: str


async def make_organisation(db: Database) -> Organisation:
    """Acme, its owner (password PASSWORD) and an admin, a developer and a viewer."""
    owner = await make_owner(db)
    emails = {role: new_email() for role in ("admin", "developer", "viewer")}
    async with db.sessionmaker.begin() as session:
        session.add_all(
            User(tenant_id=owner.tenant_id, email=email, password_hash="-", role=role)
            for role, email in emails.items()
        )
    return Organisation(owner.tenant_id, owner.email, **emails)


async def make_key(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    name: str = "Deploy bot",
    expires_at: datetime | None = None,
    quota: tuple[int, str] | None = None,
) -> tuple[uuid.UUID, str]:
    """A key of the tenant: (its id, its prefix)."""
    data = ApiKeyCreate(
        name=name, quota=Quota(requests=quota[0], period=quota[1]) if quota else None
    )
    async with db.sessionmaker.begin() as session:
        api_key, _secret = await auth_service.create_api_key(
            session, tenant_id=tenant_id, data=data, actor=SYSTEM, created_by=None
        )
        key_id, prefix, family = api_key.id, api_key.key_prefix, api_key.family_id
    assert family == key_id
    if expires_at is not None:
        await set_key_expiry(db, key_id, expires_at)
    return key_id, prefix


def mail_settings(settings: Settings, mail_server: MailServer) -> Settings:
    return settings.model_copy(update={"smtp_url": mail_server.url, "smtp_from": SENDER})


async def notice_turn(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Sweep as of `now`, then send what is due (now); returns how many mails were sent."""
    await sweeps.sweep(db.sessionmaker, now=now)
    mailer = mailer_for(settings)
    assert mailer is not None
    return await sender.send_due(db.sessionmaker, mailer, settings)
