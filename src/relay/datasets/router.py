"""Routes under /api/v1/datasets."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.direct_routes import DirectRoute
from relay.auth.principal import Principal
from relay.auth.scopes import DATASETS_READ, DATASETS_WRITE, requires
from relay.datasets import service
from relay.datasets.schemas import (
    DatasetCreate,
    DatasetListQuery,
    DatasetPage,
    DatasetRead,
    DatasetUpdate,
)
from relay.db import ReadSessionDep, SessionDep, read_connection
from relay.json_bodies import BoundedJsonRoute
from relay.openapi import error_answer
from relay.pagination import cursor_or_page, next_cursor

router = APIRouter(prefix="/datasets", tags=["Datasets"], route_class=BoundedJsonRoute)

_NOT_FOUND = error_answer("No such dataset in this tenant", "not_found")


def reach_of(principal: Principal) -> service.Reach:
    """What the key reaches: its tenant's datasets, or only the chosen ones."""
    return service.Reach(principal.tenant_id, principal.dataset_ids)


_READ = [requires(DATASETS_READ)]
_WRITE = [requires(DATASETS_WRITE)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetRead,
    dependencies=_WRITE,
    operation_id="datasets_create",
)
async def create_dataset(
    data: DatasetCreate, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> DatasetRead:
    """Create a dataset."""
    dataset = await service.create_dataset(
        session, reach=reach_of(principal), data=data, actor=actor
    )
    return DatasetRead.model_validate(dataset)


async def list_datasets(
    request: Request, principal: CurrentPrincipal, query: Annotated[DatasetListQuery, Query()]
) -> Response:
    """List the tenant's datasets, newest first, by page number or by cursor."""
    tenant_id = principal.tenant_id
    page, page_size, cursor = query.page, query.page_size, query.cursor
    after = cursor_or_page(tenant_id, cursor, page)
    reach = reach_of(principal)
    async with read_connection(request) as connection:
        listed = await service.list_datasets(
            connection, reach=reach, page_size=page_size, page=page or 1, after=after
        )
    body = {
        "items": listed.items,
        "total": listed.total,
        "page": None if cursor else page or 1,
        "page_size": page_size,
        "next_cursor": next_cursor(tenant_id, listed.next_position),
    }
    # Validated and serialised once, in pydantic's core, straight from the rows'
    # dicts; returning the model would have FastAPI validate and serialise it again.
    page_json = DatasetPage.model_validate(body).model_dump_json()
    return Response(page_json, media_type="application/json")


# The busiest route: called without FastAPI's dependency solving (see DirectRoute).
router.add_api_route(
    "",
    list_datasets,
    methods=["GET"],
    response_model=DatasetPage,
    dependencies=_READ,
    route_class_override=DirectRoute,
    operation_id="datasets_list",
)


@router.get(
    "/{dataset_id}",
    response_model=DatasetRead,
    responses=_NOT_FOUND,
    dependencies=_READ,
    operation_id="datasets_get",
)
async def get_dataset(
    dataset_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> DatasetRead:
    """Read one dataset."""
    dataset = await service.get_dataset(session, reach=reach_of(principal), dataset_id=dataset_id)
    return DatasetRead.model_validate(dataset)


@router.patch(
    "/{dataset_id}",
    response_model=DatasetRead,
    responses=_NOT_FOUND,
    dependencies=_WRITE,
    operation_id="datasets_update",
)
async def update_dataset(
    dataset_id: uuid.UUID,
    data: DatasetUpdate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
) -> DatasetRead:
    """Change some fields of a dataset; the others stay as they are."""
    dataset = await service.update_dataset(
        session, reach=reach_of(principal), dataset_id=dataset_id, data=data, actor=actor
    )
    return DatasetRead.model_validate(dataset)


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    dependencies=_WRITE,
    operation_id="datasets_delete",
)
async def delete_dataset(
    dataset_id: uuid.UUID, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> Response:
    """Delete a dataset for good."""
    await service.delete_dataset(
        session, reach=reach_of(principal), dataset_id=dataset_id, actor=actor
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
