"""Principal: who an authenticated request acts for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from relay.auth.restrictions import DatasetIds, Networks
from relay.limits.quotas import Quota
from relay.limits.windows import Window


@dataclass(frozen=True, slots=True)
class Principal:
    """A key of one tenant. Everything it reaches is scoped to `tenant_id`.

    Cached per worker with the key: whatever a request checks here (scopes, expiry,
    rate limits) costs no database work.
    """

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    key_prefix: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    # (requests, per seconds) when the key has a rate limit of its own: what the keys
    # it makes may not exceed.
    rate_limit: tuple[int, int] | None = None
    # The key families of its lineage, its own first: a change to any of them (a limit
    # set, a key rotated or revoked) drops this principal from every worker's cache.
    families: tuple[uuid.UUID, ...] = ()
    # The windows each request must pass: its family's own limit, then the limit of each
    # family that made it, directly or through other keys (verifier.py resolves them).
    limit_windows: tuple[Window, ...] = ()
    # Suspended: every request is refused with 401 "API key disabled" until resumed.
    disabled: bool = False
    # The datasets it reaches (None: all) and the networks it may be used from (None:
    # anywhere); see restrictions.py.
    dataset_ids: DatasetIds | None = None
    allowed_networks: Networks | None = None
    # The quotas each request must pass, as the windows: its family's own, then each
    # maker family's (verifier.py); `quotas[0]` is its own when `own_quota` is set.
    quotas: tuple[Quota, ...] = ()
    own_quota: tuple[int, str] | None = None
    # The limit pool it counts in as well (its window and quota are among the above);
    # a change to the pool drops the principal from every worker's cache too.
    pool_id: uuid.UUID | None = None

    @property
    def cache_tags(self) -> tuple[uuid.UUID, ...]:
        """What a change announced by id must drop it for: its families, its pool."""
        return self.families if self.pool_id is None else (*self.families, self.pool_id)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at
