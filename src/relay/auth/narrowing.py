"""Narrowing a key to the scopes it uses (relay.auth.insight suggests the set): the one
change of a key's scopes there is, and only ever to fewer."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import scopes as key_scopes
from relay.auth import service as auth_service
from relay.auth.models import ApiKey

NOT_NARROWER = "Choose scopes the key holds already, and fewer: a key is only ever narrowed"


async def narrow_scopes(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    scopes: list[str],
    actor: Actor,
) -> ApiKey:
    """Give the key `scopes` in place of its own, from its next request on every worker
    (audited as api_key.scopes_narrowed, with both sets). PermissionDenied unless they
    are known scopes granting less than the key's."""
    api_key = await auth_service.get_api_key(
        session, tenant_id=tenant_id, key_id=key_id, for_update=True
    )
    auth_service.check_key_within(actor, api_key)
    narrower = (
        bool(scopes)
        and set(scopes) <= set(key_scopes.ALL_SCOPES)
        and key_scopes.within(scopes, api_key.scopes)
        and (
            not api_key.scopes
            or key_scopes.effective(scopes) != key_scopes.effective(api_key.scopes)
        )
    )
    if not narrower:
        raise key_scopes.PermissionDenied(NOT_NARROWER)
    before, api_key.scopes = list(api_key.scopes), sorted(scopes)
    audit.record(
        session, tenant_id=tenant_id, action=Action.API_KEY_SCOPES_NARROWED, actor=actor,
        target=auth_service.audit_target(api_key), details={"from": before, "to": api_key.scopes},
    )  # fmt: skip
    await session.flush()
    await auth_service.announce_change(session, api_key)
    return api_key
