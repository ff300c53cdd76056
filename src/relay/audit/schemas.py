"""Response bodies of the audit routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    action: str = Field(examples=["api_key.created"])
    actor: str = Field(description='"user:<email>", "api_key:<key prefix>" or "system".')
    client_address: str | None
    user_agent: str | None
    target_type: str | None = Field(examples=["api_key"])
    target_id: str | None
    target_name: str | None
    details: dict[str, Any]


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    page: int | None = Field(description="The page number; null for a page read by cursor.")
    page_size: int
    has_more: bool = Field(description="True when an older page exists.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page: the same cost however "
        "deep, and no event skipped or repeated while new ones arrive. Null on the last page."
    )
