"""Request and response bodies of the API key routes, as the guide shows them, plus
scopes, rate limits, rotation and usage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from relay.auth import restrictions
from relay.auth.models import ApiKey
from relay.auth.scopes import ALL_SCOPES, ScopeName
from relay.db import utcnow
from relay.schemas import Input, UTCTimestamp
from relay.text import StoredText, TransientText

KeyName = Annotated[str, StoredText.of(ApiKey.name, min_length=1)]
MAX_RATE_LIMIT_REQUESTS = 100_000
MAX_RATE_LIMIT_SECONDS = 86_400
MAX_GRACE_PERIOD_SECONDS = 7 * 86_400


def _in_the_future(value: datetime) -> datetime:
    if value <= utcnow():
        raise ValueError("expires_at must be in the future")
    return value


def _without_repeats(scopes: list[str]) -> list[str]:
    return list(dict.fromkeys(scopes))


Scopes = Annotated[
    list[ScopeName], Field(max_length=len(ALL_SCOPES)), AfterValidator(_without_repeats)
]


def _unique_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


def _networks(values: list[str]) -> list[str]:
    try:
        return list(dict.fromkeys(restrictions.parse_networks(values)))
    except ValueError:
        raise ValueError(
            'each entry must be an IP address or a network ("203.0.113.0/24"), without host bits'
        ) from None


DatasetIds = Annotated[
    list[uuid.UUID],
    Field(min_length=1, max_length=restrictions.MAX_DATASET_IDS),
    AfterValidator(_unique_ids),
]
AllowedIps = Annotated[
    list[Annotated[str, TransientText(max_length=64)]],
    Field(min_length=1, max_length=restrictions.MAX_ALLOWED_IPS),
    AfterValidator(_networks),
]
DATASET_IDS_SAID = (
    "The datasets the key reaches; null (the default): all of the tenant's. Such a key "
    "lists, reads and changes only these, gets 404 for any other, and cannot create one."
)
POOL_ID_SAID = (
    "A limit pool of the tenant: every request of the key counts against the pool's rate "
    "limit and quota as well as its own, and the tightest decides."
)
ALLOWED_IPS_SAID = (
    'Addresses or networks the key may be used from ("203.0.113.0/24", "2001:db8::/32"); '
    "null (the default): anywhere. From elsewhere: 403."
)


class RateLimit(Input):
    """At most `requests` in any `per_seconds` seconds; more get 429 with Retry-After."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(ge=1, le=MAX_RATE_LIMIT_REQUESTS, examples=[600])
    per_seconds: int = Field(ge=1, le=MAX_RATE_LIMIT_SECONDS, examples=[60])


MAX_QUOTA_REQUESTS = 1_000_000_000


class Quota(Input):
    """At most `requests` requests accepted per UTC day, per UTC month, or ever ("none":
    it never refills); more get 429 "API key quota exhausted"."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(ge=1, le=MAX_QUOTA_REQUESTS, examples=[1000])
    period: Literal["day", "month", "none"] = Field(examples=["day"])


class QuotaRead(Quota):
    remaining: int = Field(description="Requests left in the period.")
    resets_at: datetime | None = Field(
        description="When the period ends (the next UTC day or month); null for none."
    )


class ApiKeyCreate(Input):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(examples=["Production Server"])
    expires_at: Annotated[UTCTimestamp, AfterValidator(_in_the_future)] | None = Field(
        default=None,
        description="ISO 8601; a value without an offset is taken as UTC. A key made with "
        "a key that expires never expires later than it (and, when omitted, with it).",
        examples=["2030-12-31T23:59:59Z"],
    )
    scopes: Scopes = Field(
        default_factory=list,
        description="[] (the default) is full access to the tenant. A write scope includes "
        "the read scope of the same resource. A key made with a key never has a scope "
        "that key lacks.",
    )
    rate_limit: RateLimit | None = None
    dataset_ids: DatasetIds | None = Field(
        default=None,
        description=DATASET_IDS_SAID + " A key made with a key so limited is limited to "
        "its datasets or fewer (and, when omitted, to the same).",
    )
    allowed_ips: AllowedIps | None = Field(
        default=None,
        description=ALLOWED_IPS_SAID + " A key made with a key so limited is limited to "
        "its networks or narrower (and, when omitted, to the same).",
    )
    quota: Quota | None = Field(
        default=None,
        description="Requests allowed per day, month or ever, counted over the key's "
        "family and lineage. A key made with a key that has one gets one no larger "
        "(and, when omitted, the same).",
    )
    pool_id: uuid.UUID | None = Field(
        default=None,
        description=POOL_ID_SAID + " A key made with a key in a pool is in the same pool "
        "(and, when omitted, too).",
    )


class ApiKeyUpdate(Input):
    """Rename a key, change its rate limit (`rate_limit: null` removes it), or suspend
    (`disabled: true`) and resume it."""

    model_config = ConfigDict(extra="forbid")

    # Optional, but never null: the schema says string (SkipJsonSchema hides the None
    # that only means "not sent") and an explicit null is refused below.
    name: KeyName | SkipJsonSchema[None] = Field(default=None, examples=["Production Server"])
    rate_limit: RateLimit | None = None
    disabled: bool | SkipJsonSchema[None] = Field(
        default=None,
        description="true suspends the key from its next request, on every worker (401 "
        '"API key disabled"); false resumes it.',
    )
    dataset_ids: DatasetIds | None = Field(default=None, description=DATASET_IDS_SAID)
    allowed_ips: AllowedIps | None = Field(default=None, description=ALLOWED_IPS_SAID)
    quota: Quota | None = Field(
        default=None, description="The family's quota; null removes it (every key of it)."
    )
    pool_id: uuid.UUID | None = Field(
        default=None, description=POOL_ID_SAID + " Every key of the family moves; null: none."
    )

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> ApiKeyUpdate:
        for field in ("name", "disabled"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ApiKeyRotate(Input):
    model_config = ConfigDict(extra="forbid")

    grace_period_seconds: (
        Annotated[int, Field(ge=0, le=MAX_GRACE_PERIOD_SECONDS)] | Literal["until_quiet"]
    ) = Field(
        default=3600,
        description="How long the old key keeps working (never past its own expiry), or "
        '"until_quiet": until it has gone 15 minutes without a request, at most 7 days.',
    )


class ApiKeyRead(BaseModel):
    """A key as lists show it: never the key itself."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    key_prefix: str = Field(description="The first 12 characters of the key, e.g. rl_live_a1B2.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    # Only present when set, so a key without them has exactly the guide's shape.
    dataset_ids: list[uuid.UUID] | None = Field(
        default=None,
        exclude_if=lambda ids: ids is None,
        description="The datasets the key reaches; absent: all of the tenant's.",
    )
    allowed_ips: list[str] | None = Field(
        default=None,
        exclude_if=lambda networks: networks is None,
        description="The networks the key may be used from; absent: anywhere.",
    )
    quota: QuotaRead | None = Field(
        default=None,
        exclude_if=lambda quota: quota is None,
        description="The family's quota, with what is left of it; absent when it has none.",
    )
    pool_id: uuid.UUID | None = Field(
        default=None,
        exclude_if=lambda pool: pool is None,
        description="The limit pool the key counts in as well; absent when none.",
    )
    # Only present while suspended, so a key in use has exactly the guide's shape.
    disabled: bool = Field(
        default=False,
        exclude_if=lambda disabled: not disabled,
        description="true while the key is suspended; absent otherwise.",
    )
    # Only present when set, so a key without one has exactly the guide's shape.
    rate_limit: RateLimit | None = Field(
        default=None,
        exclude_if=lambda limit: limit is None,
        description="The key's own rate limit; absent when it has none.",
    )


class ApiKeyClientRead(BaseModel):
    """One client of a key in the last 24 hours."""

    address: str = Field(examples=["203.0.113.7"])
    user_agent: str | None = Field(examples=["relay-sdk-python/1.0"])
    requests: int
    last_seen: datetime


class ApiKeyScopeUseRead(BaseModel):
    scope: str = Field(description='A scope, or "full access" for a route that needs it.')
    last_used_at: datetime


class ApiKeyDetail(ApiKeyRead):
    """One key as its own read shows it: with who used it and what it needed."""

    clients: list[ApiKeyClientRead] = Field(
        description="Who used the key in the last 24 hours, by address and user agent, "
        "most requests first (at most 20; written about once a second)."
    )
    scopes_used: list[ApiKeyScopeUseRead] = Field(
        description="The scopes the key's requests needed in the last 30 days."
    )
    suggested_scopes: list[str] | None = Field(
        default=None,
        exclude_if=lambda scopes: scopes is None,
        description="The fewest scopes that grant what the key needed in 30 days, when "
        "that is less than it holds; absent otherwise.",
    )


class ApiKeyCreated(ApiKeyRead):
    """The create and rotate response: the only time the full key is ever returned."""

    key: str = Field(description="The full key. Store it now: it is not shown again.")


class UsageDay(BaseModel):
    date: date
    total: int
    by_status: dict[str, int] = Field(
        description='Requests per status class: "2xx", "3xx", "4xx", "5xx".'
    )


class ApiKeyUsageRead(BaseModel):
    key_id: uuid.UUID
    days: list[UsageDay] = Field(description="Oldest first, one entry per UTC day.")
