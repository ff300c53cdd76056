"""Dataset records: create, list, read, update, delete, always inside one tenant and
within what the caller reaches: every function takes a `Reach`, the tenant and, for a
key limited to chosen datasets, those datasets. No dataset query is made without it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    any_,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth.scopes import InsufficientScope
from relay.datasets.models import Dataset, DatasetCount
from relay.datasets.schemas import ArtifactType, DatasetCreate, DatasetUpdate
from relay.db import tenant_rows, tenant_select, utcnow
from relay.errors import NotFoundError
from relay.pagination import Position, keyset_page
from relay.reads import PreparedRead, Reader

DATASET_NOT_FOUND = "Dataset not found"
LIMITED_KEY = "Insufficient permissions: key is limited to specific datasets"

_datasets = cast(Table, Dataset.__table__)
_counts = cast(Table, DatasetCount.__table__)

_UPSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


async def _add_to_count(session: AsyncSession, tenant_id: uuid.UUID, change: int) -> None:
    """Move the tenant's dataset count, in the caller's transaction.

    On PostgreSQL the statement holds the tenant's count row until commit, so
    concurrent writers of one tenant queue on it (READ COMMITTED re-reads the
    committed value: never a lost update, never a serialisation failure). It is each
    transaction's last statement, so the lock is held for one round trip, and a
    transaction holding it never waits for a dataset row: no deadlock. An upsert, so
    that the first create of a tenant inserts the row (two at once cannot collide)
    and creating a tenant needs no count row of its own.
    """
    insert = _UPSERTS[session.get_bind().dialect.name]
    await session.execute(
        insert(_counts)
        .values(tenant_id=tenant_id, dataset_count=change)
        .on_conflict_do_update(
            index_elements=[_counts.c.tenant_id],
            set_={"dataset_count": _counts.c.dataset_count + change},
        )
    )


@dataclass(frozen=True, slots=True)
class Reach:
    """The datasets a caller reaches: every one of the tenant's, or only `dataset_ids`
    (a key limited to chosen datasets; one deleted since simply is not there)."""

    tenant_id: uuid.UUID
    dataset_ids: frozenset[uuid.UUID] | None = None

    def datasets(self) -> Select[Dataset]:
        """The query every read of datasets starts from."""
        query = tenant_select(Dataset, self.tenant_id)
        if self.dataset_ids is not None:
            query = query.where(Dataset.id.in_(self.dataset_ids))
        return query

    def reaches(self, dataset_id: uuid.UUID) -> bool:
        return self.dataset_ids is None or dataset_id in self.dataset_ids


def _stored(artifact_types: list[ArtifactType]) -> list[dict[str, Any]]:
    return [artifact_type.model_dump() for artifact_type in artifact_types]


def _target(dataset: Dataset) -> audit.Target:
    return audit.Target("dataset", dataset.id, dataset.name)


async def create_dataset(
    session: AsyncSession, *, reach: Reach, data: DatasetCreate, actor: Actor
) -> Dataset:
    """A new dataset in the tenant, and its audit event. A key limited to chosen
    datasets may not create one (403): it could not reach it."""
    if reach.dataset_ids is not None:
        raise InsufficientScope(LIMITED_KEY)
    tenant_id = reach.tenant_id
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
    await _add_to_count(session, tenant_id, 1)
    return dataset


# Built once: a request only binds its parameters to a statement already compiled.
# It reads rows, not ORM objects: a page is read-only and needs no identity map.
_NEWEST_FIRST = (_datasets.c.created_at.desc(), _datasets.c.id.desc())
# Keyset: the rows strictly after the cursor's, read straight from the
# (tenant_id, created_at, id) index however deep the page is.
_AFTER_CURSOR = tuple_(_datasets.c.created_at, _datasets.c.id) < tuple_(
    bindparam("after_created_at", type_=_datasets.c.created_at.type),
    bindparam("after_id", type_=_datasets.c.id.type),
)


def _page_statements(rows: Select[Any], total: ScalarSelect[Any]) -> list[Select[Any]]:
    """A list's three statements: a page by number, the page after a cursor, and the
    total alone (past the last row there is no row to carry it)."""
    with_total = (
        rows.add_columns(func.coalesce(total, 0).label("total"))
        .order_by(*_NEWEST_FIRST)
        .limit(bindparam("limit"))
    )
    only_total = select(func.coalesce(total, 0).label("total"))
    return [with_total.offset(bindparam("offset")), with_total.where(_AFTER_CURSOR), only_total]


@dataclass(frozen=True, slots=True)
class _PageReads:
    page: PreparedRead
    after: PreparedRead
    only_total: PreparedRead

    @classmethod
    def of(
        cls,
        rows: Select[Any],
        total: ScalarSelect[Any],
        *,
        portable: tuple[Select[Any], ScalarSelect[Any]] | None = None,
    ) -> _PageReads:
        """The reads of `rows` with their `total`; `portable`, the same in terms every
        dialect has, when those are asyncpg's own."""
        native = _page_statements(rows, total)
        other = native if portable is None else _page_statements(*portable)
        return cls(*(PreparedRead(n, portable=o) for n, o in zip(native, other, strict=True)))


# Every dataset of the tenant: the total rides along with the page from the tenant's
# count row: one round trip, one snapshot, and the same cost at 1 dataset or 10 million.
_ALL = _PageReads.of(
    tenant_rows(Dataset),
    tenant_rows(DatasetCount).with_only_columns(_counts.c.dataset_count).scalar_subquery(),
)


def _chosen(is_chosen: ColumnElement[bool]) -> tuple[Select[Any], ScalarSelect[Any]]:
    """A key's chosen datasets (at most 100, read by primary key), with the number of
    those that still exist."""
    rows = tenant_rows(Dataset).where(is_chosen)
    # Not correlated: the count reads the table itself, not the outer query's row.
    return rows, rows.with_only_columns(func.count()).correlate(None).scalar_subquery()


# asyncpg binds the ids as one uuid[]; SQLite has no arrays, so there the IN list is
# expanded to the ids' number when run.
_CHOSEN = _PageReads.of(
    *_chosen(_datasets.c.id == any_(bindparam("ids", type_=ARRAY(_datasets.c.id.type)))),
    portable=_chosen(_datasets.c.id.in_(bindparam("ids", expanding=True))),
)


@dataclass(frozen=True, slots=True)
class DatasetList:
    """One page of a tenant's datasets (the Dataset fields by name), newest first."""

    items: Sequence[dict[str, Any]]
    total: int
    # Where the next page starts; None when this page is the last.
    next_position: Position | None


async def list_datasets(
    reader: AsyncSession | Reader,
    *,
    reach: Reach,
    page_size: int,
    page: int = 1,
    after: Position | None = None,
) -> DatasetList:
    """A page of the datasets `reach` reaches, newest first: the `page`-th, or the one
    right after `after` (a page's `next_position`), with their total."""
    connection = await reader.connection() if isinstance(reader, AsyncSession) else reader
    # One row more than the page tells whether another page follows.
    params: dict[str, Any] = {"tenant_id": reach.tenant_id, "limit": page_size + 1}
    reads = _ALL if reach.dataset_ids is None else _CHOSEN
    if reach.dataset_ids is not None:
        params["ids"] = list(reach.dataset_ids)
    if after is None:
        statement = reads.page
        params["offset"] = (page - 1) * page_size
    else:
        statement = reads.after
        params |= {"after_created_at": after.created_at, "after_id": after.id}
    rows = await statement.rows(connection, params)
    if not rows:
        params = {name: params[name] for name in ("tenant_id", "ids") if name in params}
        (only,) = await reads.only_total.rows(connection, params)
        return DatasetList(items=[], total=only["total"], next_position=None)
    shown = keyset_page(rows, page_size, _position)
    return DatasetList(items=shown.items, total=rows[0]["total"], next_position=shown.next_position)


def _position(row: dict[str, Any]) -> Position:
    return Position(row["created_at"], row["id"])


async def get_dataset(
    session: AsyncSession,
    *,
    reach: Reach,
    dataset_id: uuid.UUID,
    for_update: bool = False,
) -> Dataset:
    """The dataset; NotFoundError when missing, another tenant's or out of reach (the
    same answer). `for_update` locks its row until commit (PostgreSQL; SQLite has one
    writer)."""
    if not reach.reaches(dataset_id):
        raise NotFoundError(DATASET_NOT_FOUND)
    query = reach.datasets().where(Dataset.id == dataset_id)
    dataset = await session.scalar(query.with_for_update() if for_update else query)
    if dataset is None:
        raise NotFoundError(DATASET_NOT_FOUND)
    return dataset


async def update_dataset(
    session: AsyncSession, *, reach: Reach, dataset_id: uuid.UUID, data: DatasetUpdate, actor: Actor
) -> Dataset:
    """Change the fields present in `data`; `updated_at` moves forward. Audited as
    dataset.updated, naming the fields sent."""
    # Locked: a delete committed meanwhile makes this a 404, not a lost update.
    dataset = await get_dataset(session, reach=reach, dataset_id=dataset_id, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude={"artifact_types"})
    if data.artifact_types is not None:
        changes["artifact_types"] = _stored(data.artifact_types)
    for field, value in changes.items():
        setattr(dataset, field, value)
    dataset.updated_at = utcnow()
    audit.record(
        session, tenant_id=reach.tenant_id, action=Action.DATASET_UPDATED, actor=actor,
        target=_target(dataset), details={"fields": sorted(changes)},
    )  # fmt: skip
    await session.flush()
    return dataset


async def delete_dataset(
    session: AsyncSession, *, reach: Reach, dataset_id: uuid.UUID, actor: Actor
) -> Dataset:
    """Delete the dataset and return it; NotFoundError when missing, another tenant's
    or out of reach."""
    # Locked, so of two concurrent deletes of one dataset exactly one counts it
    # down; the other waits, then finds nothing (404).
    dataset = await get_dataset(session, reach=reach, dataset_id=dataset_id, for_update=True)
    tenant_id = reach.tenant_id
    await session.delete(dataset)
    audit.record(
        session, tenant_id=tenant_id, action=Action.DATASET_DELETED, actor=actor,
        target=_target(dataset),
    )  # fmt: skip
    await session.flush()
    await _add_to_count(session, tenant_id, -1)
    return dataset
