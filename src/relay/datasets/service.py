"""Dataset records: create, list, read, update, delete, always inside one tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.datasets.models import Dataset
from relay.datasets.schemas import ArtifactType, DatasetCreate, DatasetUpdate
from relay.db import tenant_rows, tenant_select, utcnow
from relay.errors import NotFoundError

DATASET_NOT_FOUND = "Dataset not found"


def _stored(artifact_types: list[ArtifactType]) -> list[dict[str, Any]]:
    return [artifact_type.model_dump() for artifact_type in artifact_types]


def _target(dataset: Dataset) -> audit.Target:
    return audit.Target("dataset", dataset.id, dataset.name)


async def create_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, data: DatasetCreate, actor: Actor
) -> Dataset:
    """A new dataset in the tenant, and its audit event."""
    now = utcnow()
    dataset = Dataset(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=data.name,
        description=data.description,
        artifact_types=_stored(data.artifact_types),
        created_at=now,
        updated_at=now,
    )
    session.add(dataset)
    audit.record(
        session, tenant_id=tenant_id, action=Action.DATASET_CREATED, actor=actor,
        target=_target(dataset),
    )  # fmt: skip
    await session.flush()
    return dataset


# Built once: a request only binds its parameters to a statement already compiled.
# It reads rows, not ORM objects: a page is read-only and needs no identity map.
_datasets = cast(Table, Dataset.__table__)
_PAGE = (
    tenant_rows(Dataset)
    # The total rides along with the page (a window count): one round trip, not two.
    .add_columns(func.count().over().label("total"))
    .order_by(_datasets.c.created_at.desc(), _datasets.c.id.desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
# Past the last page there is no row to carry the total.
_TOTAL = select(func.count()).select_from(tenant_rows(Dataset).subquery())


async def list_datasets(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: int, page_size: int
) -> tuple[Sequence[Row[Any]], int]:
    """One page of the tenant's datasets (rows with the Dataset fields), newest first,
    and the total count."""
    offset = (page - 1) * page_size
    params = {"tenant_id": tenant_id, "offset": offset, "limit": page_size}
    rows = (await session.execute(_PAGE, params)).all()
    if rows:
        return rows, rows[0].total
    return [], await session.scalar(_TOTAL, {"tenant_id": tenant_id}) or 0


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
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID, actor: Actor
) -> Dataset:
    """Delete the tenant's dataset and return it; NotFoundError when missing or
    another tenant's."""
    dataset = await get_dataset(session, tenant_id=tenant_id, dataset_id=dataset_id)
    await session.delete(dataset)
    audit.record(
        session, tenant_id=tenant_id, action=Action.DATASET_DELETED, actor=actor,
        target=_target(dataset),
    )  # fmt: skip
    await session.flush()
    return dataset
