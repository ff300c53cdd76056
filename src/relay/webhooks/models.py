"""ORM models of webhooks: a tenant's endpoints, the outbox of events, and one delivery
of an event to an endpoint (what the sender claims, sends and records)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relay.db import Base, StoredJSON, StoredString, TenantOwned, UTCDateTime, utcnow

URL_LENGTH = 2048
# A delivery's states: waiting for its (next) attempt or in flight, sent, given up.
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookEndpoint(TenantOwned, Base):
    """Where a tenant wants its events POSTed, and which ones ("*" for all). The signing
    secret is kept sealed with the server's key (webhooks/signing.py), never in clear."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(StoredString(URL_LENGTH))
    events: Mapped[list[str]] = mapped_column(StoredJSON)
    sealed_secret: Mapped[str] = mapped_column(StoredString(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookEvent(TenantOwned, Base):
    """One event of the outbox, written with the change it announces (or not at all)."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    type: Mapped[str] = mapped_column(StoredString(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(StoredJSON)


class WebhookDelivery(TenantOwned, Base):
    """An event on its way to one endpoint. A sender claims it by setting `lease_id` and
    moving `next_attempt_at` past the time one attempt can take: no other sender takes
    it meanwhile, and if that sender dies, the delivery is due again when it passes."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(StoredString(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(StoredString(200), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # So that a flush writes the event before its deliveries (never loaded: lazy="raise").
    event: Mapped[WebhookEvent] = relationship(lazy="raise")
