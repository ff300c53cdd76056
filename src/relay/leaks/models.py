"""ORM model for the dashboard's notice of a leaked key (shown until dismissed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredString, TenantOwned, UTCDateTime, utcnow


class LeakNotice(TenantOwned, Base):
    __tablename__ = "leak_notices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    # "<name> (<prefix>…)", as the key was called when it leaked.
    key_label: Mapped[str] = mapped_column(StoredString(200))
    url: Mapped[str] = mapped_column(StoredString(2000))
    source: Mapped[str] = mapped_column(StoredString(200))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
