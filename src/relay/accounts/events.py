"""Audit events about a user's account, written in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.tenants import roles
from relay.tenants.models import User


def record_user_event(
    session: AsyncSession,
    user: User,
    action: Action,
    actor: Actor,
    details: dict[str, Any] | None = None,
) -> None:
    """An event of the user's tenant about the user."""
    audit.record(
        session,
        tenant_id=user.tenant_id,
        action=action,
        actor=actor,
        target=audit.Target("user", user.id, user.email),
        details=details,
    )


def as_user(user: User, client: Actor) -> Actor:
    """The browser `client` (known by address and agent only) acting as `user`, once
    it has proven who it is."""
    return roles.member_actor(
        user.email, user.role, client_address=client.client_address, user_agent=client.user_agent
    )
