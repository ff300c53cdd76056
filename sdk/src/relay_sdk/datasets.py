"""Datasets (/api/v1/datasets): create, list (page by page, or every one), get, update, delete."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from relay_sdk.models import NOT_FROM_API, from_json, parse_model, to_json
from relay_sdk.operations import (
    NOT_GIVEN,
    NotGiven,
    Operation,
    given_fields,
    no_content,
    path_segment,
)
from relay_sdk.resource import (
    AsyncResource,
    SyncResource,
    async_call,
    async_pages,
    sync_call,
    sync_pages,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class ArtifactType:
    """A kind of annotation a dataset holds, e.g. ArtifactType("bounding_box", color="#3B82F6")."""

    name: str
    description: str | None = None
    color: str | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    id: str
    name: str
    description: str | None
    artifact_types: tuple[ArtifactType, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """One page of datasets, newest first; `next_page` fetches the one after, if any,
    by its `next_cursor` (so no dataset is skipped or repeated while others are added
    or deleted). `page` is None for a page asked for by cursor."""

    items: tuple[Dataset, ...]
    total: int
    page: int | None
    page_size: int
    next_cursor: str | None
    next_page: Operation[DatasetPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


def _parse_page(response: httpx.Response) -> DatasetPage:
    page = from_json(DatasetPage, response.json())
    if page.next_cursor is None:
        return page
    following = list_datasets(cursor=page.next_cursor, page_size=page.page_size)
    return dataclasses.replace(page, next_page=following)


def create_dataset(
    name: str, *, description: str | None = None, artifact_types: Sequence[ArtifactType] = ()
) -> Operation[Dataset]:
    """Create a dataset."""
    body = {"name": name, "description": description, "artifact_types": to_json(artifact_types)}
    return Operation("POST", "/datasets", parse_model(Dataset), json=body)


def list_datasets(
    *, page: int | None = None, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Operation[DatasetPage]:
    """One page of the tenant's datasets, newest first (page_size at most 100): by
    number (`page`, 1 when neither is given) or after a previous page's `next_cursor`."""
    params: dict[str, str | int] = {"page_size": page_size}
    if cursor is not None:
        params["cursor"] = cursor
    else:
        params["page"] = page or 1
    return Operation("GET", "/datasets", _parse_page, params=params)


def every_dataset(*, page_size: int = MAX_PAGE_SIZE) -> Operation[DatasetPage]:
    """Every dataset, newest first, a page at a time, each page after the last one's
    cursor: a dataset created or deleted meanwhile never makes another one skipped or
    seen twice."""
    return list_datasets(page_size=page_size)


def get_dataset(dataset_id: str) -> Operation[Dataset]:
    """Read one dataset."""
    return Operation("GET", f"/datasets/{path_segment(dataset_id)}", parse_model(Dataset))


def update_dataset(
    dataset_id: str,
    *,
    name: str | NotGiven = NOT_GIVEN,
    description: str | NotGiven | None = NOT_GIVEN,
    artifact_types: Sequence[ArtifactType] | NotGiven = NOT_GIVEN,
) -> Operation[Dataset]:
    """Change the fields given; the others stay as they are (description=None clears it)."""
    body = given_fields(
        name=name,
        description=description,
        artifact_types=artifact_types if artifact_types is NOT_GIVEN else to_json(artifact_types),
    )
    return Operation(
        "PATCH", f"/datasets/{path_segment(dataset_id)}", parse_model(Dataset), json=body
    )


def delete_dataset(dataset_id: str) -> Operation[None]:
    """Delete a dataset for good."""
    return Operation("DELETE", f"/datasets/{path_segment(dataset_id)}", no_content)


class Datasets(SyncResource):
    """The tenant's datasets; `iter()` goes through every page."""

    create = sync_call(create_dataset)
    list = sync_call(list_datasets)
    iter = sync_pages(every_dataset)
    get = sync_call(get_dataset)
    update = sync_call(update_dataset)
    delete = sync_call(delete_dataset)


class AsyncDatasets(AsyncResource):
    """The tenant's datasets; `iter()` goes through every page (`async for`)."""

    create = async_call(create_dataset)
    list = async_call(list_datasets)
    iter = async_pages(every_dataset)
    get = async_call(get_dataset)
    update = async_call(update_dataset)
    delete = async_call(delete_dataset)
