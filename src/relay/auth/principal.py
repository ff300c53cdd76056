"""Principal: who an authenticated request acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """A key of one tenant. Everything it reaches is scoped to `tenant_id`.

    Cached per worker with the key: whatever a request checks here (scopes, expiry,
    rate limit) costs no database work.
    """

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    # (requests, per seconds) when the key has a rate limit of its own.
    rate_limit: tuple[int, int] | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at
