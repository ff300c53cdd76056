"""ORM models of limit pools and of what their quotas used."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString, TenantOwned, UTCDateTime, utcnow


class LimitPool(TenantOwned, Base):
    """A rate limit and a quota that every key in the pool (api_keys.pool_id) counts
    against, on top of its own: Unkey's identities, OpenAI's project limits."""

    __tablename__ = "limit_pools"
    __table_args__ = (Index("ix_limit_pools_tenant_id_created_at", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(StoredString(100))
    # At most `rate_limit_requests` in any `rate_limit_seconds`, over all its keys.
    rate_limit_requests: Mapped[int | None] = mapped_column(Integer)
    rate_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    # At most `quota_requests` per "day", "month" or "none" (ever), over all its keys.
    quota_requests: Mapped[int | None] = mapped_column(Integer)
    quota_period: Mapped[str | None] = mapped_column(StoredString(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def rate_limit(self) -> dict[str, int] | None:
        if self.rate_limit_requests is None or self.rate_limit_seconds is None:
            return None
        return {"requests": self.rate_limit_requests, "per_seconds": self.rate_limit_seconds}


class PoolQuotaUsage(Base):
    """Units of a pool's quota used (or leased to a worker) in one period; as
    QuotaUsage is for a key family's (limits/quotas.py)."""

    __tablename__ = "limit_pool_quota_usage"

    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("limit_pools.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(StoredString(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
