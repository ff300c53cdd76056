"""Dataset records: create, list, read, update, delete, always inside one tenant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.datasets.models import Dataset
from relay.datasets.schemas import ArtifactType, DatasetCreate, DatasetUpdate
from relay.db import tenant_select, utcnow
from relay.errors import NotFoundError

DATASET_NOT_FOUND = "Dataset not found"


def _stored(artifact_types: list[ArtifactType]) -> list[dict[str, Any]]:
    return [artifact_type.model_dump() for artifact_type in artifact_types]


async def create_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, data: DatasetCreate
) -> Dataset:
    """A new dataset in the tenant."""
    now = utcnow()
    dataset = Dataset(
        tenant_id=tenant_id,
        name=data.name,
        description=data.description,
        artifact_types=_stored(data.artifact_types),
        created_at=now,
        updated_at=now,
    )
    session.add(dataset)
    await session.flush()
    return dataset


async def list_datasets(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: int, page_size: int
) -> tuple[list[Dataset], int]:
    """One page of the tenant's datasets, newest first, and the total count."""
    # The total rides along with the page (a window count): one round trip, not two.
    query = (
        tenant_select(Dataset, tenant_id)
        .add_columns(func.count().over().label("total"))
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = (await session.execute(query)).all()
    if rows:
        return [row[0] for row in rows], rows[0].total
    # Past the last page there is no row to carry the total.
    count = select(func.count()).select_from(tenant_select(Dataset, tenant_id).subquery())
    return [], await session.scalar(count) or 0


async def get_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID
) -> Dataset:
    """The tenant's dataset; NotFoundError when missing or another tenant's."""
    dataset = await session.scalar(
        tenant_select(Dataset, tenant_id).where(Dataset.id == dataset_id)
    )
    if dataset is None:
        raise NotFoundError(DATASET_NOT_FOUND)
    return dataset


async def update_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID, data: DatasetUpdate
) -> Dataset:
    """Change the fields present in `data`; `updated_at` moves forward."""
    dataset = await get_dataset(session, tenant_id=tenant_id, dataset_id=dataset_id)
    changes = data.model_dump(exclude_unset=True, exclude={"artifact_types"})
    if data.artifact_types is not None:
        changes["artifact_types"] = _stored(data.artifact_types)
    for field, value in changes.items():
        setattr(dataset, field, value)
    dataset.updated_at = utcnow()
    await session.flush()
    return dataset


async def delete_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID
) -> Dataset:
    """Delete the tenant's dataset and return it; NotFoundError when missing or
    another tenant's."""
    dataset = await get_dataset(session, tenant_id=tenant_id, dataset_id=dataset_id)
    await session.delete(dataset)
    await session.flush()
    return dataset
