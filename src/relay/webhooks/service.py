"""Webhook endpoint records: register, list, read, change and delete a tenant's
endpoints (each change audited: who points the organisation's events where is never
silent); list an endpoint's deliveries and send one again. Every query goes through
the tenant-scoping helper: another tenant's endpoint or delivery is a 404."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.db import tenant_select, utcnow
from relay.errors import NotFoundError
from relay.pagination import Position, after
from relay.webhooks import signing
from relay.webhooks.addresses import UrlPolicy
from relay.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent
from relay.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate

ENDPOINT_NOT_FOUND = "Webhook endpoint not found"


def _audit(session: AsyncSession, action: Action, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """An endpoint's change in the audit log: its URL, events and state (never its secret)."""
    audit.record(
        session, tenant_id=endpoint.tenant_id, action=action, actor=actor,
        target=audit.Target("webhook_endpoint", endpoint.id, endpoint.url[:340]),
        details={"url": endpoint.url, "events": list(endpoint.events), "enabled": endpoint.enabled},
    )  # fmt: skip


DELIVERY_NOT_FOUND = "Webhook delivery not found"


async def create_endpoint(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    data: WebhookEndpointCreate,
    urls: UrlPolicy,
    sealing_key: bytes,
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint (its URL checked: UrlRefused for one not to send to);
    returns it with its signing secret, which is kept sealed only."""
    await urls.check(data.url)
    secret = signing.new_secret()
    now = utcnow()
    endpoint_id = uuid.uuid4()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        url=data.url,
        events=list(data.events),
        sealed_secret=signing.seal_secret(sealing_key, secret, endpoint_id=endpoint_id),
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    _audit(session, Action.WEBHOOK_ENDPOINT_CREATED, endpoint, actor)
    await session.flush()
    return endpoint, secret


async def list_endpoints(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int, start_after: Position | None
) -> list[WebhookEndpoint]:
    """At most `limit` of the tenant's endpoints, newest first, after a cursor's position."""
    query = tenant_select(WebhookEndpoint, tenant_id).order_by(
        WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc()
    )
    if start_after is not None:
        query = query.where(after(WebhookEndpoint.created_at, WebhookEndpoint.id, start_after))
    return list((await session.scalars(query.limit(limit))).all())


async def get_endpoint(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """The tenant's endpoint; NotFoundError when unknown or another tenant's."""
    endpoint = await session.scalar(
        tenant_select(WebhookEndpoint, tenant_id).where(WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise NotFoundError(ENDPOINT_NOT_FOUND)
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    urls: UrlPolicy,
    actor: Actor,
) -> WebhookEndpoint:
    """Change the fields sent; a new URL is checked as at registration."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    if data.url is not None and data.url != endpoint.url:
        await urls.check(data.url)
        endpoint.url = data.url
    if data.events is not None:
        endpoint.events = list(data.events)
    if data.enabled is not None:
        endpoint.enabled = data.enabled
    endpoint.updated_at = utcnow()
    _audit(session, Action.WEBHOOK_ENDPOINT_UPDATED, endpoint, actor)
    await session.flush()
    return endpoint


async def delete_endpoint(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, actor: Actor
) -> None:
    """Delete the endpoint and its deliveries (pending ones are never sent)."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    _audit(session, Action.WEBHOOK_ENDPOINT_DELETED, endpoint, actor)
    await session.delete(endpoint)
    await session.flush()


async def list_deliveries(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    limit: int,
    start_after: Position | None,
) -> Sequence[tuple[WebhookDelivery, str]]:
    """At most `limit` of the endpoint's deliveries with their event's type, newest first."""
    await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    query = (
        tenant_select(WebhookDelivery, tenant_id)
        .add_columns(WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    )
    if start_after is not None:
        query = query.where(after(WebhookDelivery.created_at, WebhookDelivery.id, start_after))
    rows = (await session.execute(query.limit(limit))).all()
    return [(delivery, event_type) for delivery, event_type in rows]


async def redeliver(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, str]:
    """Send a delivery's event to its endpoint again, as a new delivery due now (the
    first is left as it is, even while in flight: it is never sent twice at once)."""
    await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    found = (
        await session.execute(
            tenant_select(WebhookDelivery, tenant_id)
            .add_columns(WebhookEvent.type)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
        )
    ).first()
    if found is None:
        raise NotFoundError(DELIVERY_NOT_FOUND)
    original, event_type = found
    now = utcnow()
    again = WebhookDelivery(
        tenant_id=tenant_id,
        endpoint_id=endpoint_id,
        event_id=original.event_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    await session.flush()
    return again, event_type
