"""Request and response bodies of the API key routes, as the guide shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from relay.db import utcnow
from relay.schemas import NoControlCharacters, UTCTimestamp

KeyName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    NoControlCharacters,
]


def _in_the_future(value: datetime) -> datetime:
    if value <= utcnow():
        raise ValueError("expires_at must be in the future")
    return value


def _no_scopes_yet(value: list[str]) -> list[str]:
    if value:
        raise ValueError("scopes are not available yet: send [] or leave the field out")
    return value


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(examples=["Production Server"])
    expires_at: Annotated[UTCTimestamp, AfterValidator(_in_the_future)] | None = Field(
        default=None,
        description="ISO 8601; a value without an offset is taken as UTC.",
        examples=["2030-12-31T23:59:59Z"],
    )
    scopes: Annotated[list[str], AfterValidator(_no_scopes_yet)] = Field(
        default_factory=list,
        description="Coming soon: only [] is accepted for now.",
        json_schema_extra={"maxItems": 0},
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


class ApiKeyCreated(ApiKeyRead):
    """The create response: the only time the full key is ever returned."""

    key: str = Field(description="The full key. Store it now: it is not shown again.")
