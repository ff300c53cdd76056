"""ORM models of the limits that must outlive a process: quota counts."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString


class QuotaUsage(Base):
    """Units of a key family's quota used (or leased to a worker) in one period."""

    __tablename__ = "api_key_quota_usage"

    # The family's first key's id (api_keys.family_id).
    family_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    # "2026-12-07" (a day), "2026-12" (a month) or "all" (a quota that never refills).
    period: Mapped[str] = mapped_column(StoredString(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
