"""Settings > Webhooks: the tenant's endpoints (newest 100), adding one (its signing
secret shown once), and an endpoint's page with its delivery log (newest 50), a form
changing its URL and events, Send again, Pause/Resume and Delete. The pages call the
services the API's routes call (relay.webhooks), with the same URL rules."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render, user_actor
from relay.db import SessionDep
from relay.errors import InvalidInput, RelayError
from relay.tenants import roles
from relay.tenants.models import User
from relay.webhooks import service as webhooks
from relay.webhooks import signing
from relay.webhooks.addresses import UrlPolicy
from relay.webhooks.outbox import ALL_EVENTS, EVENT_TYPES
from relay.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate

WEBHOOKS = "/settings/webhooks"
router = APIRouter(prefix=WEBHOOKS, include_in_schema=False)
LISTED = 100
DELIVERIES_LISTED = 50
FIELDS = {
    "url": FormField("webhook-url", "Endpoint URL", noun="the URL to send events to"),
    "events": FormField(
        "webhook-events",
        "Events",
        noun="the events to send",
        rewrites=(("at least 1 item", "Choose the events to send, or All events"),),
    ),
}


def _urls(request: Request) -> UrlPolicy:
    policy: UrlPolicy = request.app.state.webhook_urls
    return policy


def _values_of_form(form: FormData) -> dict[str, Any]:
    """An endpoint form's URL and events as sent; every event ("*") when All is ticked."""
    events = [v for v in form.getlist("events") if isinstance(v, str)]
    return {"url": field(form, "url"), "events": [ALL_EVENTS] if ALL_EVENTS in events else events}


def _refusal(exc: ValidationError) -> dict[str, str]:
    """An endpoint form's validation failures, at its fields."""
    return field_messages(exc, FIELDS) or {"webhook-url": "Check the URL and the events"}


async def _webhooks_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    created: tuple[Any, str] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    endpoints = await webhooks.list_endpoints(
        session, tenant_id=user.tenant_id, limit=LISTED, start_after=None
    )
    context = {
        "endpoints": endpoints,
        "event_types": EVENT_TYPES,
        "all_events": ALL_EVENTS,
        "created": created,
        "errors": errors or {},
        "values": values or {"url": "", "events": [ALL_EVENTS]},
    }
    # The page that carries a signing secret must never be cached or replayed.
    return render(
        request, "webhooks.html", context, user=user, status_code=status_code, no_store=True
    )


@router.get("", dependencies=[needs(roles.VIEW)])
async def webhooks_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    return await _webhooks_page(request, session, user)


@router.post("", dependencies=[needs(roles.WEBHOOKS)])
async def add_endpoint(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Register an endpoint; its signing secret is shown once, on the page answered."""
    values = _values_of_form(form)
    try:
        data = WebhookEndpointCreate.model_validate(values)
        endpoint, secret = await webhooks.create_endpoint(
            session, tenant_id=user.tenant_id, data=data, urls=_urls(request),
            sealing_key=signing.sealing_key(request.app.state.settings),
            actor=user_actor(request, user),
        )  # fmt: skip
    except ValidationError as exc:
        return await _webhooks_page(
            request, session, user, errors=_refusal(exc), values=values, status_code=422
        )
    except RelayError as exc:  # a URL not to send to, or no server key to seal with
        errors = {"webhook-url": exc.detail}
        return await _webhooks_page(
            request, session, user, errors=errors, values=values, status_code=exc.status_code
        )
    return await _webhooks_page(request, session, user, created=(endpoint, secret), status_code=201)


async def _endpoint_page(
    request: Request,
    session: SessionDep,
    user: User,
    endpoint_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """An endpoint's page; its form as it was sent, with `errors`, when given."""
    try:
        endpoint = await webhooks.get_endpoint(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id
        )
        deliveries = await webhooks.list_deliveries(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id,
            limit=DELIVERIES_LISTED, start_after=None,
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, WEBHOOKS, error=exc.detail)
    context = {
        "endpoint": endpoint,
        "deliveries": deliveries,
        "event_types": EVENT_TYPES,
        "all_events": ALL_EVENTS,
        "errors": errors or {},
        "values": values or {"url": endpoint.url, "events": endpoint.events},
        "confirm_delete": request.query_params.get("delete") == "1",
    }
    return render(request, "webhook.html", context, user=user, status_code=status_code)


@router.get("/{endpoint_id}", dependencies=[needs(roles.VIEW)])
async def endpoint_page(
    request: Request, session: SessionDep, user: CurrentUser, endpoint_id: uuid.UUID
) -> Response:
    return await _endpoint_page(request, session, user, endpoint_id)


@router.post("/{endpoint_id}", dependencies=[needs(roles.WEBHOOKS)])
async def change_endpoint(
    request: Request, session: SessionDep, user: CurrentUser, endpoint_id: uuid.UUID,
    form: CheckedForm,
) -> Response:  # fmt: skip
    """Change an endpoint's URL and events (a new URL is checked as at registration)."""
    values = _values_of_form(form)
    try:
        # Both fields are always sent: checked as a new endpoint's are (the update's
        # optional fields would name their errors by pydantic's union members).
        sent = WebhookEndpointCreate.model_validate(values)
        endpoint = await webhooks.update_endpoint(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id,
            data=WebhookEndpointUpdate(url=sent.url, events=sent.events), urls=_urls(request),
            actor=user_actor(request, user),
        )  # fmt: skip
    except ValidationError as exc:
        return await _endpoint_page(
            request, session, user, endpoint_id, errors=_refusal(exc), values=values,
            status_code=422,
        )  # fmt: skip
    except InvalidInput as exc:  # a URL not to send to: refused before anything changed
        return await _endpoint_page(
            request, session, user, endpoint_id, errors={"webhook-url": exc.detail},
            values=values, status_code=exc.status_code,
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, WEBHOOKS, error=exc.detail)
    return redirect(
        request, f"{WEBHOOKS}/{endpoint_id}", flash=f"Endpoint saved: events go to {endpoint.url}."
    )


@router.post("/{endpoint_id}/enabled", dependencies=[needs(roles.WEBHOOKS)])
async def pause_or_resume(
    request: Request, session: SessionDep, user: CurrentUser, endpoint_id: uuid.UUID,
    form: CheckedForm,
) -> Response:  # fmt: skip
    """Pause an endpoint (nothing is sent to it until resumed) or resume it."""
    enabled = field(form, "enabled") == "true"
    here = f"{WEBHOOKS}/{endpoint_id}"
    try:
        await webhooks.update_endpoint(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id,
            data=WebhookEndpointUpdate(enabled=enabled), urls=_urls(request),
            actor=user_actor(request, user),
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, WEBHOOKS, error=exc.detail)
    said = "resumed: events are sent to it again" if enabled else "paused: nothing is sent to it"
    return redirect(request, here, flash=f"Endpoint {said}.")


@router.post("/{endpoint_id}/delete", dependencies=[needs(roles.WEBHOOKS)])
async def delete_endpoint(
    request: Request, session: SessionDep, user: CurrentUser, endpoint_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:  # fmt: skip
    try:
        await webhooks.delete_endpoint(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id,
            actor=user_actor(request, user),
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, WEBHOOKS, error=exc.detail)
    return redirect(request, WEBHOOKS, flash="Endpoint deleted: nothing more is sent to it.")


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver", dependencies=[needs(roles.WEBHOOKS)]
)
async def send_again(
    request: Request, session: SessionDep, user: CurrentUser, endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID, _form: CheckedForm,
) -> Response:  # fmt: skip
    """Send a delivery's event again, as a new delivery due now."""
    here = f"{WEBHOOKS}/{endpoint_id}"
    try:
        _, event_type = await webhooks.redeliver(
            session, tenant_id=user.tenant_id, endpoint_id=endpoint_id, delivery_id=delivery_id
        )
    except RelayError as exc:
        return redirect(request, here, error=exc.detail)
    return redirect(request, here, flash=f"The {event_type} event will be sent again shortly.")
