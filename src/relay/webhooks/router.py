"""Routes under /api/v1/webhook-endpoints: register, list, read, change and delete the
tenant's endpoints (`webhooks:write` to change, `webhooks:read` to read), list an
endpoint's deliveries and send one again."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.scopes import WEBHOOKS_READ, WEBHOOKS_WRITE, requires
from relay.db import ReadSessionDep, SessionDep
from relay.json_bodies import BoundedJsonRoute
from relay.openapi import error_answer
from relay.pagination import Cursor, Position, decode_cursor, keyset_page
from relay.webhooks import service, signing
from relay.webhooks.addresses import UrlPolicy
from relay.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint
from relay.webhooks.schemas import (
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)

router = APIRouter(
    prefix="/webhook-endpoints", tags=["Webhook endpoints"], route_class=BoundedJsonRoute
)

_NOT_FOUND = error_answer("No such webhook endpoint (or delivery) in this tenant", "not_found")
_NO_SERVER_KEY = error_answer(
    "RELAY_SECRET_KEY is not set: the server cannot keep signing secrets", "secret_key_missing"
)
PageSize = Annotated[int, Query(ge=1, le=100)]
PageCursor = Annotated[Cursor | None, Query(description="A previous page's `next_cursor`.")]


def _urls(request: Request) -> UrlPolicy:
    policy: UrlPolicy = request.app.state.webhook_urls
    return policy


def _shown(endpoint: WebhookEndpoint) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(endpoint, from_attributes=True)


def _delivery(delivery: WebhookDelivery, event_type: str) -> WebhookDeliveryRead:
    return WebhookDeliveryRead(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == PENDING else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointCreated,
    responses=_NO_SERVER_KEY,
    dependencies=[requires(WEBHOOKS_WRITE)],
    operation_id="webhook_endpoints_create",
)
async def create_webhook_endpoint(
    data: WebhookEndpointCreate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
) -> WebhookEndpointCreated:
    """Register an endpoint; the answer holds its signing secret, shown this once."""
    endpoint, secret = await service.create_endpoint(
        session,
        tenant_id=principal.tenant_id,
        data=data,
        urls=_urls(request),
        sealing_key=signing.sealing_key(request.app.state.settings),
        actor=actor,
    )
    return WebhookEndpointCreated(**_shown(endpoint).model_dump(), secret=secret)


@router.get(
    "",
    response_model=WebhookEndpointPage,
    dependencies=[requires(WEBHOOKS_READ)],
    operation_id="webhook_endpoints_list",
)
async def list_webhook_endpoints(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    page_size: PageSize = 50,
    cursor: PageCursor = None,
) -> WebhookEndpointPage:
    """List the tenant's webhook endpoints, newest first."""
    tenant_id = principal.tenant_id
    start_after = decode_cursor(tenant_id, cursor) if cursor is not None else None
    page = keyset_page(
        await service.list_endpoints(
            session, tenant_id=tenant_id, limit=page_size + 1, start_after=start_after
        ),
        page_size,
        Position.of,
    )
    return WebhookEndpointPage(
        items=[_shown(endpoint) for endpoint in page.items],
        next_cursor=page.next_cursor(tenant_id),
    )


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointRead,
    responses=_NOT_FOUND,
    dependencies=[requires(WEBHOOKS_READ)],
    operation_id="webhook_endpoints_get",
)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> WebhookEndpointRead:
    """Read one endpoint (never its secret)."""
    return _shown(
        await service.get_endpoint(session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id)
    )


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointRead,
    responses=_NOT_FOUND,
    dependencies=[requires(WEBHOOKS_WRITE)],
    operation_id="webhook_endpoints_update",
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
) -> WebhookEndpointRead:
    """Change an endpoint's URL or events, or pause and resume it."""
    endpoint = await service.update_endpoint(
        session,
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        data=data,
        urls=_urls(request),
        actor=actor,
    )
    return _shown(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    dependencies=[requires(WEBHOOKS_WRITE)],
    operation_id="webhook_endpoints_delete",
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> Response:
    """Delete an endpoint: nothing more is sent to it, pending deliveries included."""
    await service.delete_endpoint(
        session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, actor=actor
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryPage,
    responses=_NOT_FOUND,
    dependencies=[requires(WEBHOOKS_READ)],
    operation_id="webhook_endpoints_list_deliveries",
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    page_size: PageSize = 50,
    cursor: PageCursor = None,
) -> WebhookDeliveryPage:
    """List an endpoint's deliveries, newest first: each event's status and attempts."""
    tenant_id = principal.tenant_id
    start_after = decode_cursor(tenant_id, cursor) if cursor is not None else None
    page = keyset_page(
        await service.list_deliveries(
            session,
            tenant_id=tenant_id,
            endpoint_id=endpoint_id,
            limit=page_size + 1,
            start_after=start_after,
        ),
        page_size,
        lambda row: Position.of(row[0]),
    )
    return WebhookDeliveryPage(
        items=[_delivery(delivery, event_type) for delivery, event_type in page.items],
        next_cursor=page.next_cursor(tenant_id),
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryRead,
    responses=_NOT_FOUND,
    dependencies=[requires(WEBHOOKS_WRITE)],
    operation_id="webhook_endpoints_redeliver",
)
async def redeliver_webhook(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> WebhookDeliveryRead:
    """Send a delivery's event again, as a new delivery (answered at once; sent soon)."""
    delivery, event_type = await service.redeliver(
        session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return _delivery(delivery, event_type)
