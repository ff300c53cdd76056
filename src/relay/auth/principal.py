"""Principal: who an authenticated request acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """A key of one tenant. Everything it reaches is scoped to `tenant_id`."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
