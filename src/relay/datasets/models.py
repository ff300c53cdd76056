"""ORM models for datasets; artifact types are stored with their dataset as JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from relay.db import (
    Base,
    StoredJSON,
    StoredLongText,
    StoredString,
    TenantOwned,
    UTCDateTime,
    utcnow,
)


class Dataset(TenantOwned, Base):
    __tablename__ = "datasets"
    # Serves both list orders exactly: the tenant's rows newest first, ties by id, so
    # a page (OFFSET or keyset after a cursor) reads only the rows it returns.
    __table_args__ = (
        Index("ix_datasets_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(StoredString(200))
    description: Mapped[str | None] = mapped_column(StoredLongText)
    artifact_types: Mapped[list[dict[str, Any]]] = mapped_column(StoredJSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetCount(TenantOwned, Base):
    """How many datasets a tenant has, kept in the transaction of each create and
    delete, so a list's `total` is one primary-key read instead of a count of rows.
    A tenant without a row has none (the first create inserts it)."""

    __tablename__ = "dataset_counts"

    # The primary key is the tenant (TenantOwned's own index would repeat it).
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_count: Mapped[int] = mapped_column(BigInteger)
