"""Routes under /api/v1/datasets."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.scopes import DATASETS_READ, DATASETS_WRITE, requires
from relay.datasets import service
from relay.datasets.schemas import DatasetCreate, DatasetPage, DatasetRead, DatasetUpdate
from relay.db import ReadSessionDep, SessionDep
from relay.json_bodies import BoundedJsonRoute

router = APIRouter(prefix="/datasets", tags=["Datasets"], route_class=BoundedJsonRoute)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such dataset in this tenant"}
}


_READ = [requires(DATASETS_READ)]
_WRITE = [requires(DATASETS_WRITE)]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DatasetRead, dependencies=_WRITE
)
async def create_dataset(
    data: DatasetCreate, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> DatasetRead:
    """Create a dataset."""
    dataset = await service.create_dataset(
        session, tenant_id=principal.tenant_id, data=data, actor=actor
    )
    return DatasetRead.model_validate(dataset)


@router.get("", response_model=DatasetPage, dependencies=_READ)
async def list_datasets(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DatasetPage:
    """List the tenant's datasets, newest first, one page at a time."""
    items, total = await service.list_datasets(
        session, tenant_id=principal.tenant_id, page=page, page_size=page_size
    )
    return DatasetPage(
        items=[DatasetRead.model_validate(item) for item in items],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get("/{dataset_id}", response_model=DatasetRead, responses=_NOT_FOUND, dependencies=_READ)
async def get_dataset(
    dataset_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> DatasetRead:
    """Read one dataset."""
    dataset = await service.get_dataset(
        session, tenant_id=principal.tenant_id, dataset_id=dataset_id
    )
    return DatasetRead.model_validate(dataset)


@router.patch(
    "/{dataset_id}", response_model=DatasetRead, responses=_NOT_FOUND, dependencies=_WRITE
)
async def update_dataset(
    dataset_id: uuid.UUID, data: DatasetUpdate, principal: CurrentPrincipal, session: SessionDep
) -> DatasetRead:
    """Change some fields of a dataset; the others stay as they are."""
    dataset = await service.update_dataset(
        session, tenant_id=principal.tenant_id, dataset_id=dataset_id, data=data
    )
    return DatasetRead.model_validate(dataset)


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    dependencies=_WRITE,
)
async def delete_dataset(
    dataset_id: uuid.UUID, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> Response:
    """Delete a dataset for good."""
    await service.delete_dataset(
        session, tenant_id=principal.tenant_id, dataset_id=dataset_id, actor=actor
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
