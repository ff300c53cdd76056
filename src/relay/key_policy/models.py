"""ORM model of a tenant's key policy: one row per tenant that has set one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString, UTCDateTime, utcnow


class KeyPolicy(Base):
    """What a tenant requires of its keys (see key_policy/service.py). A tenant without a
    row has the default: no maximum lifetime, no expiry when unused, full access for all."""

    __tablename__ = "key_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    max_lifetime_days: Mapped[int | None] = mapped_column(Integer)
    expire_unused_after_days: Mapped[int | None] = mapped_column(Integer)
    # "allowed" or "owners_only".
    full_access_keys: Mapped[str] = mapped_column(StoredString(12), default="allowed")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
