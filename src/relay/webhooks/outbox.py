"""The events webhooks announce, and the outbox they are written to.

Every change already records an audit event in its own transaction (audit.record);
`emit`, called from there, is how that change is also announced: an event type per
audit action (ACTION_EVENTS), so a new audited change is one line here. `emit` only
notes the event in the session; just before the session's next flush (`before_flush`,
so the commit's own at the latest) the noted events are written, one outbox row and
one delivery per enabled endpoint subscribed to it, in the same transaction as the
change: both are committed, or neither. A tenant without endpoints costs one indexed
query per flush that has events, and writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from relay.audit.actions import Action
from relay.db import utcnow
from relay.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

if TYPE_CHECKING:
    from relay.actors import Actor
    from relay.audit.service import Target

EventType = Literal[
    "api_key.created", "api_key.updated", "api_key.rotated", "api_key.revoked",
    "api_key.leaked", "api_key.disabled", "api_key.enabled", "api_key.expiring",
    "api_key.expired", "api_key.scopes_narrowed", "api_key.new_network",
    "api_key.quota_warning", "api_key.quota_exhausted",
    "member.invited", "member.joined", "member.removed", "member.role_changed",
    "dataset.created", "dataset.updated", "dataset.deleted",
]  # fmt: skip
# What an endpoint may subscribe to: these, or "*" for every one (now and to come).
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
ALL_EVENTS = "*"
# Audit actions announced by webhooks, and the type of event each becomes.
ACTION_EVENTS: dict[Action, EventType] = {
    Action.API_KEY_CREATED: "api_key.created",
    Action.API_KEY_UPDATED: "api_key.updated",
    Action.API_KEY_ROTATED: "api_key.rotated",
    Action.API_KEY_REVOKED: "api_key.revoked",
    Action.API_KEY_LEAKED: "api_key.leaked",
    Action.API_KEY_DISABLED: "api_key.disabled",
    Action.API_KEY_ENABLED: "api_key.enabled",
    Action.API_KEY_EXPIRING: "api_key.expiring",
    Action.API_KEY_EXPIRED: "api_key.expired",
    Action.API_KEY_EXPIRED_UNUSED: "api_key.expired",
    Action.API_KEY_SCOPES_NARROWED: "api_key.scopes_narrowed",
    Action.API_KEY_NEW_NETWORK: "api_key.new_network",
    Action.API_KEY_QUOTA_WARNING: "api_key.quota_warning",
    Action.API_KEY_QUOTA_EXHAUSTED: "api_key.quota_exhausted",
    Action.MEMBER_INVITED: "member.invited",
    Action.MEMBER_JOINED: "member.joined",
    Action.MEMBER_REMOVED: "member.removed",
    Action.MEMBER_ROLE_CHANGED: "member.role_changed",
    Action.DATASET_CREATED: "dataset.created",
    Action.DATASET_UPDATED: "dataset.updated",
    Action.DATASET_DELETED: "dataset.deleted",
}
_NOTED = "relay.webhooks.noted"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class _Noted:
    tenant_id: uuid.UUID
    type: str
    at: datetime
    data: dict[str, Any]


def emit(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    action: Action,
    actor: Actor,
    target: Target | None,
    details: dict[str, Any],
    at: datetime | None = None,
) -> None:
    """Announce an audited change to the tenant's endpoints, in its transaction. The
    event's data is what the audit event holds (never a secret: the audit log shows it)."""
    event_type = ACTION_EVENTS.get(action)
    if event_type is None:
        return
    data = {
        "target": None
        if target is None
        else {"type": target.type, "id": str(target.id), "name": target.name},
        "actor": actor.label,
        "details": details,
    }
    noted = _Noted(tenant_id, event_type, at or utcnow(), data)
    session.sync_session.info.setdefault(_NOTED, []).append(noted)


@event.listens_for(Session, "before_flush")
def _write_outbox(session: Session, _context: UOWTransaction, _instances: object) -> None:
    noted: list[_Noted] | None = session.info.pop(_NOTED, None)
    if not noted:
        return
    tenants = {item.tenant_id for item in noted}
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id.in_(tenants), WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    for item in noted:
        subscribed = [
            endpoint
            for endpoint in endpoints
            if endpoint.tenant_id == item.tenant_id and endpoint.subscribes_to(item.type)
        ]
        if not subscribed:
            continue
        outbox_event = WebhookEvent(
            id=new_event_id(),
            tenant_id=item.tenant_id,
            type=item.type,
            created_at=item.at,
            data=item.data,
        )
        now = utcnow()
        for endpoint in subscribed:
            session.add(
                WebhookDelivery(
                    tenant_id=item.tenant_id,
                    endpoint_id=endpoint.id,
                    event=outbox_event,
                    next_attempt_at=now,
                    created_at=now,
                )
            )


@event.listens_for(Session, "after_soft_rollback")
def _forget_noted(session: Session, _transaction: object) -> None:
    # A rolled-back change announces nothing, not even with the session's next one.
    session.info.pop(_NOTED, None)
