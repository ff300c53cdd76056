"""Request and response bodies of /api/v1/limit-pools."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from relay.auth.schemas import Quota, QuotaRead, RateLimit
from relay.limit_pools.models import LimitPool
from relay.pagination import CursorPage
from relay.schemas import Input
from relay.text import StoredText

PoolName = Annotated[str, StoredText.of(LimitPool.name, min_length=1)]


class LimitPoolCreate(Input):
    """A pool of keys: each request of a key in it counts against the pool's rate limit
    and quota as well as the key's own; the tightest decides."""

    model_config = ConfigDict(extra="forbid")

    name: PoolName = Field(examples=["Acme mobile app"])
    rate_limit: RateLimit | None = Field(
        default=None, description="At most this many requests by all its keys together."
    )
    quota: Quota | None = Field(
        default=None, description="Requests allowed per day, month or ever, to all its keys."
    )


class LimitPoolUpdate(Input):
    """Rename a pool or change its limits (a field sent as null removes that limit; a
    field not sent stays). Every key in it is held to the new limits from its next
    request, on every worker."""

    model_config = ConfigDict(extra="forbid")

    name: PoolName | SkipJsonSchema[None] = Field(default=None, examples=["Acme mobile app"])
    rate_limit: RateLimit | None = None
    quota: Quota | None = None

    @model_validator(mode="after")
    def _name_not_null(self) -> LimitPoolUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class LimitPoolRead(BaseModel):
    id: uuid.UUID
    name: str
    rate_limit: RateLimit | None
    quota: QuotaRead | None = Field(description="With what is left of it this period.")
    key_count: int = Field(description="The live keys in the pool: neither revoked nor expired.")
    created_at: datetime
    updated_at: datetime


class LimitPoolPage(CursorPage[LimitPoolRead]):
    """The tenant's limit pools, newest first."""
