"""Acting on a leak report: every token that names a live key revokes it, with an
audit event saying where it was found and a notice for the tenant's dashboard."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import keys
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.db import tenant_select, utcnow
from relay.leaks.models import LeakNotice
from relay.leaks.schemas import LeakedToken


async def revoke_leaked(
    session: AsyncSession, tokens: Sequence[LeakedToken], *, reporter: str
) -> list[ApiKey]:
    """Revoke each live key the report names (in the caller's transaction); returns them."""
    actor = Actor(f"leak-report:{reporter}")
    revoked: list[ApiKey] = []
    for leaked in tokens:
        if not keys.is_well_formed(leaked.token):
            continue
        found = await session.scalar(
            select(ApiKey).where(
                ApiKey.key_hash == keys.hash_key(leaked.token), ApiKey.revoked_at.is_(None)
            )
        )
        if found is None:
            continue
        api_key = await auth_service.revoke_api_key(
            session, tenant_id=found.tenant_id, key_id=found.id, actor=actor
        )
        label = f"{api_key.name} ({api_key.key_prefix}…)"
        audit.record(
            session, tenant_id=api_key.tenant_id, action=Action.API_KEY_LEAKED, actor=actor,
            target=audit.Target("api_key", api_key.id, label),
            details={"url": leaked.url, "source": leaked.source},
        )  # fmt: skip
        session.add(
            LeakNotice(
                tenant_id=api_key.tenant_id,
                key_id=api_key.id,
                key_label=label,
                url=leaked.url,
                source=leaked.source,
                reported_at=utcnow(),
            )
        )
        revoked.append(api_key)
    await session.flush()
    return revoked


async def open_notices(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[LeakNotice]:
    query = (
        tenant_select(LeakNotice, tenant_id)
        .where(LeakNotice.dismissed_at.is_(None))
        .order_by(LeakNotice.reported_at.desc())
    )
    return list((await session.scalars(query)).all())


async def dismiss_notice(
    session: AsyncSession, *, tenant_id: uuid.UUID, notice_id: uuid.UUID
) -> None:
    """Hide a notice for everyone in the tenant (another tenant's: nothing happens)."""
    await session.execute(
        update(LeakNotice)
        .where(LeakNotice.tenant_id == tenant_id, LeakNotice.id == notice_id)
        .values(dismissed_at=utcnow())
    )
