"""ORM model for audit events. An event holds a key's prefix at most: never a key, a
password or a session token."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import Base, StoredJSON, StoredString, TenantOwned, UTCDateTime, utcnow


class AuditEvent(TenantOwned, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # Newest first by (at, id), page 1 or after a cursor, with or without an
        # action, actor or key filter; the actors and keys the events name (the
        # dashboard's filter lists); `at` alone for pruning.
        Index("ix_audit_events_tenant_id_at_id", "tenant_id", "at", "id"),
        Index("ix_audit_events_tenant_id_action_at_id", "tenant_id", "action", "at", "id"),
        Index("ix_audit_events_tenant_id_actor_at_id", "tenant_id", "actor", "at", "id"),
        Index(
            "ix_audit_events_tenant_id_target_type_target_id_at_id",
            "tenant_id",
            "target_type",
            "target_id",
            "at",
            "id",
        ),
        Index("ix_audit_events_at", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(StoredString(40))
    # "user:<email>", "api_key:<prefix>" or "system".
    actor: Mapped[str] = mapped_column(StoredString(340))
    client_address: Mapped[str | None] = mapped_column(StoredString(64))
    user_agent: Mapped[str | None] = mapped_column(StoredString(200))
    target_type: Mapped[str | None] = mapped_column(StoredString(20))
    target_id: Mapped[str | None] = mapped_column(StoredString(64))
    # A name to show (a key's name, a dataset's, a member's email) and small facts.
    target_name: Mapped[str | None] = mapped_column(StoredString(340))
    details: Mapped[dict[str, Any]] = mapped_column(StoredJSON, default=dict)
