"""Request and response bodies of /api/v1/webhook-endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from relay.pagination import CursorPage
from relay.schemas import Input
from relay.text import StoredText
from relay.webhooks.models import WebhookEndpoint
from relay.webhooks.outbox import EVENT_TYPES, EventType

WebhookUrl = Annotated[str, StoredText.of(WebhookEndpoint.url, min_length=1)]


def _without_repeats(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


# One Literal, so that a wrong name gets one message naming every choice.
EventChoice = Literal[EventType, "*"]
Events = Annotated[
    list[EventChoice],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        description='The event types to send, or `["*"]` for every one (new types included).',
        examples=[["api_key.revoked", "api_key.leaked"]],
    ),
    AfterValidator(_without_repeats),
]
URL_SAID = (
    "Where events are POSTed: http(s), at a public address (checked now and before each send)."
)


class WebhookEndpointCreate(Input):
    """An endpoint: every event it subscribes to is POSTed to its URL, signed."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description=URL_SAID, examples=["https://example.com/relay-events"])
    events: Events


class WebhookEndpointUpdate(Input):
    """Change an endpoint's URL, events, or pause it (`enabled: false`: no deliveries
    until it is enabled again); a field not sent stays."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | SkipJsonSchema[None] = Field(default=None, description=URL_SAID)
    events: Events | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> WebhookEndpointUpdate:
        for name in ("url", "events", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WebhookEndpointRead(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`): shown this once. Check each "
        "delivery's Relay-Signature with it (relay_sdk.webhooks.verify)."
    )


class WebhookEndpointPage(CursorPage[WebhookEndpointRead]):
    """The tenant's webhook endpoints, newest first."""


class WebhookDeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: waiting for its next attempt (or being sent); delivered: "
        "a 2xx answer came; failed: no 2xx in 24 hours of attempts."
    )
    attempts: int
    next_attempt_at: datetime | None = Field(description="Null unless pending.")
    last_status_code: int | None = Field(description="The last attempt's HTTP status.")
    last_error: str | None = Field(description="Why the last attempt failed, in words.")
    delivered_at: datetime | None
    created_at: datetime


class WebhookDeliveryPage(CursorPage[WebhookDeliveryRead]):
    """An endpoint's deliveries, newest first."""
