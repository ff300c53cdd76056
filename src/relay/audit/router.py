"""GET /api/v1/audit-events: the tenant's audit log, newest first (scope audit:read)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from relay.audit import service
from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.audit.schemas import AuditEventPage, AuditEventRead
from relay.auth.dependencies import CurrentPrincipal
from relay.auth.scopes import AUDIT_READ, requires
from relay.db import ReadSessionDep
from relay.json_bodies import BoundedJsonRoute
from relay.pagination import Cursor, cursor_or_page
from relay.schemas import UTCTimestamp
from relay.text import StoredText

ActorLabel = Annotated[str, StoredText.of(AuditEvent.actor)]

router = APIRouter(prefix="/audit-events", tags=["Audit events"], route_class=BoundedJsonRoute)


@router.get(
    "",
    response_model=AuditEventPage,
    dependencies=[requires(AUDIT_READ)],
    operation_id="audit_events_list",
)
async def list_audit_events(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    page: Annotated[
        int | None, Query(ge=1, le=10_000, description="Page number; 1 when omitted.")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    action: Annotated[Action | None, Query(description="Only events of this action.")] = None,
    actor: Annotated[
        ActorLabel | None,
        Query(description='Only events of this actor, as events name it ("user:<email>").'),
    ] = None,
    key_id: Annotated[
        uuid.UUID | None,
        Query(description='Only events about this API key (`target_type` "api_key").'),
    ] = None,
    since: Annotated[
        UTCTimestamp | None, Query(description="Only events at or after this.")
    ] = None,
    cursor: Annotated[
        Cursor | None,
        Query(
            description="A previous page's `next_cursor` (with the same filters): the "
            "page right after it, however deep. Not with `page`.",
        ),
    ] = None,
) -> AuditEventPage:
    """List the tenant's audit events, newest first; no route changes or deletes them."""
    tenant_id = principal.tenant_id
    position = cursor_or_page(tenant_id, cursor, page)
    listed = await service.list_events(
        session,
        tenant_id=tenant_id,
        page=page or 1,
        page_size=page_size,
        action=action,
        actor=actor,
        key_id=key_id,
        since=since,
        cursor=position,
    )
    return AuditEventPage(
        items=[AuditEventRead.model_validate(event) for event in listed.items],
        page=None if cursor else page or 1,
        page_size=page_size,
        has_more=listed.next_position is not None,
        next_cursor=listed.next_cursor(tenant_id),
    )
