"""Writing audit events (in the caller's transaction) and reading them, per tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.db import tenant_select, utcnow
from relay.pagination import KeysetPage, Position, after, keyset_page
from relay.webhooks import outbox

KEY_TARGET = "api_key"


@dataclass(frozen=True, slots=True)
class Target:
    """What an event is about: ("api_key", id, name), ("dataset", ...), ("user", ...)."""

    type: str
    id: uuid.UUID | str
    name: str | None = None


def record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    action: Action,
    actor: Actor,
    target: Target | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add an event to the session: it is written with the change it records, or not at
    all; so is its webhook event, for the changes webhooks announce (webhooks/outbox.py)."""
    at = at or utcnow()
    event = AuditEvent(
        tenant_id=tenant_id,
        at=at,
        action=action.value,
        actor=actor.label,
        client_address=actor.client_address,
        user_agent=actor.user_agent,
        target_type=target.type if target else None,
        target_id=str(target.id) if target else None,
        target_name=target.name if target else None,
        details=details or {},
    )
    session.add(event)
    outbox.emit(
        session, tenant_id=tenant_id, action=action, actor=actor, target=target,
        details=details or {}, at=at,
    )  # fmt: skip
    return event


async def list_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    page: int,
    page_size: int,
    action: Action | None = None,
    actor: str | None = None,
    key_id: uuid.UUID | None = None,
    since: datetime | None = None,
    cursor: Position | None = None,
) -> KeysetPage[AuditEvent]:
    """One page of the tenant's events, newest first (by page number, or the page right
    after `cursor`), and where the older page starts, if one exists. `actor` is a label
    as events hold it ("user:<email>"); `key_id` keeps the events about that API key."""
    query = tenant_select(AuditEvent, tenant_id)
    if action is not None:
        query = query.where(AuditEvent.action == action.value)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if key_id is not None:
        query = query.where(
            AuditEvent.target_type == KEY_TARGET, AuditEvent.target_id == str(key_id)
        )
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if cursor is not None:
        query = query.where(after(AuditEvent.at, AuditEvent.id, cursor))
    else:
        query = query.offset((page - 1) * page_size)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(page_size + 1)
    events = (await session.scalars(query)).all()
    return keyset_page(events, page_size, _position)


def _position(event: AuditEvent) -> Position:
    return Position(event.at, event.id)


async def actors_seen(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[str]:
    """Every actor of the tenant's events (still kept), sorted."""
    query = (
        tenant_select(AuditEvent, tenant_id)
        .with_only_columns(AuditEvent.actor)
        .distinct()
        .order_by(AuditEvent.actor)
    )
    return list((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class SeenKey:
    """An API key some of the tenant's events are about, by the name they give it."""

    id: str
    name: str


async def keys_seen(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[SeenKey]:
    """Every API key the tenant's events (still kept) are about, sorted by name. A key is
    named as its newest event names it "Name (prefix…)"; only by its prefix if no event
    does (those of its use give the prefix alone)."""
    query = (
        tenant_select(AuditEvent, tenant_id)
        .with_only_columns(AuditEvent.target_id, AuditEvent.target_name, func.max(AuditEvent.at))
        .where(AuditEvent.target_type == KEY_TARGET, AuditEvent.target_id.is_not(None))
        .group_by(AuditEvent.target_id, AuditEvent.target_name)
    )
    best: dict[str, tuple[bool, datetime, str]] = {}
    for target_id, target_name, newest in (await session.execute(query)).all():
        key_id = str(target_id)
        name = target_name or key_id
        rank = (name.endswith("…)"), newest, name)
        if key_id not in best or rank[:2] > best[key_id][:2]:
            best[key_id] = rank
    named = [SeenKey(key_id, rank[2]) for key_id, rank in best.items()]
    return sorted(named, key=lambda key: (key.name.casefold(), key.id))


async def prune(session: AsyncSession, *, older_than: datetime, limit: int) -> int:
    """Delete up to `limit` of every tenant's events from before `older_than`, oldest
    first; returns how many."""
    oldest = (
        select(AuditEvent.id).where(AuditEvent.at < older_than).order_by(AuditEvent.at).limit(limit)
    )
    result = await session.execute(delete(AuditEvent).where(AuditEvent.id.in_(oldest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
