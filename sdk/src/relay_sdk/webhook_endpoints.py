"""Webhook endpoints (/api/v1/webhook-endpoints): URLs that receive the tenant's events,
signed (check them with relay_sdk.webhooks.verify), and each endpoint's deliveries.
Reading needs webhooks:read; registering, changing and redelivering webhooks:write."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import httpx

from relay_sdk.models import NOT_FROM_API, from_json, parse_model
from relay_sdk.operations import (
    NOT_GIVEN,
    NotGiven,
    Operation,
    given_fields,
    no_content,
    path_segment,
)
from relay_sdk.resource import (
    AsyncResource,
    SyncResource,
    async_call,
    async_pages,
    sync_call,
    sync_pages,
)

PATH = "/webhook-endpoints"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """An endpoint: its `url`, the `events` it receives (("*",): all) and whether it is
    `enabled` (False: paused, nothing sent)."""

    id: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CreatedWebhookEndpoint(WebhookEndpoint):
    """A new endpoint and its signing `secret` (`whsec_...`), shown this once (kept out
    of repr)."""

    secret: str = field(repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class WebhookEndpointPage:
    """One page of endpoints, newest first; `next_page` fetches the one after, if any."""

    items: tuple[WebhookEndpoint, ...]
    next_cursor: str | None
    next_page: Operation[WebhookEndpointPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """An event on its way to an endpoint: `status` is pending, delivered or failed."""

    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDeliveryPage:
    """One page of an endpoint's deliveries, newest first."""

    items: tuple[WebhookDelivery, ...]
    next_cursor: str | None
    next_page: Operation[WebhookDeliveryPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


PageT = TypeVar("PageT", WebhookEndpointPage, WebhookDeliveryPage)


def _endpoint_path(endpoint_id: str) -> str:
    return f"{PATH}/{path_segment(endpoint_id)}"


def _params(cursor: str | None, page_size: int) -> dict[str, str | int]:
    params: dict[str, str | int] = {"page_size": page_size}
    if cursor is not None:
        params["cursor"] = cursor
    return params


def _paged(
    model: type[PageT], following: Callable[[str], Operation[PageT]]
) -> Callable[[httpx.Response], PageT]:
    def parse(response: httpx.Response) -> PageT:
        page = from_json(model, response.json())
        if page.next_cursor is None:
            return page
        return dataclasses.replace(page, next_page=following(page.next_cursor))

    return parse


def create_webhook_endpoint(url: str, events: Sequence[str]) -> Operation[CreatedWebhookEndpoint]:
    """Register an endpoint for `events` (["*"]: all); keep the answer's `secret`."""
    body = {"url": url, "events": list(events)}
    return Operation("POST", PATH, parse_model(CreatedWebhookEndpoint), json=body)


def list_webhook_endpoints(
    *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Operation[WebhookEndpointPage]:
    """One page of the tenant's endpoints, newest first (page_size at most 100)."""

    def following(next_cursor: str) -> Operation[WebhookEndpointPage]:
        return list_webhook_endpoints(cursor=next_cursor, page_size=page_size)

    parse = _paged(WebhookEndpointPage, following)
    return Operation("GET", PATH, parse, params=_params(cursor, page_size))


def every_webhook_endpoint(*, page_size: int = MAX_PAGE_SIZE) -> Operation[WebhookEndpointPage]:
    """Every endpoint, newest first, a page at a time."""
    return list_webhook_endpoints(page_size=page_size)


def get_webhook_endpoint(endpoint_id: str) -> Operation[WebhookEndpoint]:
    """Read one endpoint (never its secret)."""
    return Operation("GET", _endpoint_path(endpoint_id), parse_model(WebhookEndpoint))


def update_webhook_endpoint(
    endpoint_id: str,
    *,
    url: str | NotGiven = NOT_GIVEN,
    events: Sequence[str] | NotGiven = NOT_GIVEN,
    enabled: bool | NotGiven = NOT_GIVEN,
) -> Operation[WebhookEndpoint]:
    """Change an endpoint's URL or events, or pause (enabled=False) and resume it."""
    listed = events if isinstance(events, NotGiven) else list(events)
    body = given_fields(url=url, events=listed, enabled=enabled)
    path = _endpoint_path(endpoint_id)
    return Operation("PATCH", path, parse_model(WebhookEndpoint), json=body)


def delete_webhook_endpoint(endpoint_id: str) -> Operation[None]:
    """Delete an endpoint: nothing more is sent to it."""
    return Operation("DELETE", _endpoint_path(endpoint_id), no_content)


def list_webhook_deliveries(
    endpoint_id: str, *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Operation[WebhookDeliveryPage]:
    """One page of an endpoint's deliveries, newest first."""

    def following(next_cursor: str) -> Operation[WebhookDeliveryPage]:
        return list_webhook_deliveries(endpoint_id, cursor=next_cursor, page_size=page_size)

    parse = _paged(WebhookDeliveryPage, following)
    path = f"{_endpoint_path(endpoint_id)}/deliveries"
    return Operation("GET", path, parse, params=_params(cursor, page_size))


def redeliver_webhook(endpoint_id: str, delivery_id: str) -> Operation[WebhookDelivery]:
    """Send a delivery's event again, as a new delivery (returned, pending)."""
    path = f"{_endpoint_path(endpoint_id)}/deliveries/{path_segment(delivery_id)}/redeliver"
    return Operation("POST", path, parse_model(WebhookDelivery))


class WebhookEndpoints(SyncResource):
    """The tenant's webhook endpoints; `iter()` goes through every page."""

    create = sync_call(create_webhook_endpoint)
    list = sync_call(list_webhook_endpoints)
    iter = sync_pages(every_webhook_endpoint)
    get = sync_call(get_webhook_endpoint)
    update = sync_call(update_webhook_endpoint)
    delete = sync_call(delete_webhook_endpoint)
    deliveries = sync_call(list_webhook_deliveries)
    redeliver = sync_call(redeliver_webhook)


class AsyncWebhookEndpoints(AsyncResource):
    """The tenant's webhook endpoints; `iter()` goes through every page (`async for`)."""

    create = async_call(create_webhook_endpoint)
    list = async_call(list_webhook_endpoints)
    iter = async_pages(every_webhook_endpoint)
    get = async_call(get_webhook_endpoint)
    update = async_call(update_webhook_endpoint)
    delete = async_call(delete_webhook_endpoint)
    deliveries = async_call(list_webhook_deliveries)
    redeliver = async_call(redeliver_webhook)
