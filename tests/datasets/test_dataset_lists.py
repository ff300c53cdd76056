"""Dataset lists at any size: the total from the tenant's count row, exact under
concurrent writers, and keyset cursors that neither skip nor repeat a row."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from relay.config import Settings
from relay.datasets.models import Dataset, DatasetCount
from relay.db import Database
from relay.migrations import upgrade_database
from tests.factories import TenantFixture, make_dataset

DATASETS = "/api/v1/datasets"


async def list_page(
    client: httpx.AsyncClient, tenant: TenantFixture, **query: Any
) -> dict[str, Any]:
    response = await client.get(DATASETS, params=query, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_count(db: Database, tenant: TenantFixture) -> tuple[int, int | None]:
    """(datasets in the table, the tenant's count row) for the tenant."""
    async with db.sessionmaker() as session:
        rows = await session.scalar(
            select(func.count()).where(Dataset.tenant_id == tenant.tenant_id)
        )
        counted = await session.scalar(
            select(DatasetCount.dataset_count).where(DatasetCount.tenant_id == tenant.tenant_id)
        )
    return rows or 0, counted


async def test_total_follows_creates_and_deletes_and_starts_at_zero(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    assert (await list_page(client, tenant_a))["total"] == 0
    created = [await make_dataset(db, tenant_a, name=f"Set {n}") for n in range(3)]
    await make_dataset(db, tenant_b)
    deleted = await client.delete(f"{DATASETS}/{created[0].id}", headers=tenant_a.headers)
    assert deleted.status_code == 204

    assert (await list_page(client, tenant_a))["total"] == 2
    assert (await list_page(client, tenant_b))["total"] == 1
    assert await stored_count(db, tenant_a) == (2, 2)


async def test_total_stays_exact_under_concurrent_creates_and_deletes(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    """Many requests at once on the pool's connections (PostgreSQL: real concurrent
    transactions on one count row), including three deletes racing for each dataset."""
    doomed = [await make_dataset(db, tenant_a, name=f"Doomed {n}") for n in range(8)]

    async def create(number: int) -> int:
        body = {"name": f"Concurrent {number}"}
        return (await client.post(DATASETS, json=body, headers=tenant_a.headers)).status_code

    async def delete(dataset_id: uuid.UUID) -> int:
        url = f"{DATASETS}/{dataset_id}"
        return (await client.delete(url, headers=tenant_a.headers)).status_code

    statuses = await asyncio.gather(
        *(create(n) for n in range(24)),
        *(delete(dataset.id) for dataset in doomed * 3),
    )

    assert statuses[:24] == [201] * 24
    deletes = statuses[24:]
    assert sorted(deletes) == [204] * 8 + [404] * 16
    assert (await list_page(client, tenant_a))["total"] == 24
    assert await stored_count(db, tenant_a) == (24, 24)


async def test_next_cursor_walks_every_dataset_once_while_rows_come_and_go(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    datasets = [await make_dataset(db, tenant_a, name=f"Set {n}") for n in range(10)]
    # Three datasets created in the same microsecond: the id breaks the tie.
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(Dataset)
            .where(Dataset.id.in_([d.id for d in datasets[4:7]]))
            .values(created_at=datasets[4].created_at)
        )
    everything = await list_page(client, tenant_a, page_size=100)
    names = [item["name"] for item in everything["items"]]

    seen: list[str] = []
    body = await list_page(client, tenant_a, page_size=3)
    assert body["page"] == 1
    seen += [item["name"] for item in body["items"]]
    # Between pages: a new dataset (newer than any cursor), one deleted that was
    # already seen and one deleted that was not yet.
    await make_dataset(db, tenant_a, name="Added meanwhile")
    by_name = {d.name: d for d in datasets}
    for name in (names[0], names[5]):
        response = await client.delete(f"{DATASETS}/{by_name[name].id}", headers=tenant_a.headers)
        assert response.status_code == 204
    while body["next_cursor"] is not None:
        body = await list_page(client, tenant_a, page_size=3, cursor=body["next_cursor"])
        assert (body["page"], body["page_size"]) == (None, 3)
        seen += [item["name"] for item in body["items"]]

    assert seen == [name for name in names if name != names[5]]
    assert body["total"] == 9


async def test_next_cursor_is_null_on_a_full_last_page(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    for number in range(4):
        await make_dataset(db, tenant_a, name=f"Set {number}")
    first = await list_page(client, tenant_a, page_size=2)
    last = await list_page(client, tenant_a, page_size=2, cursor=first["next_cursor"])
    by_page = await list_page(client, tenant_a, page=2, page_size=2)
    assert [item["name"] for item in last["items"]] == ["Set 1", "Set 0"]
    assert last["next_cursor"] is None
    assert by_page["items"] == last["items"]
    assert by_page["next_cursor"] is None


async def test_cursor_from_another_tenant_is_refused_like_a_malformed_one(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    for number in range(2):
        await make_dataset(db, tenant_b, name=f"Secret {number}")
    foreign = (await list_page(client, tenant_b, page_size=1))["next_cursor"]
    assert foreign is not None

    stolen = await client.get(DATASETS, params={"cursor": foreign}, headers=tenant_a.headers)
    mangled = await client.get(
        DATASETS, params={"cursor": foreign[:-2] + "AA"}, headers=tenant_a.headers
    )

    assert stolen.status_code == 422
    assert stolen.content == mangled.content
    assert "Secret" not in stolen.text


@pytest.mark.parametrize(
    "cursor",
    ["", "abc", "A" * 43, "%" * 43, "é" * 43, "A" * 101, "AAAA" * 11],
    ids=["empty", "short", "unsigned", "not-base64", "not-ascii", "too-long", "44-chars"],
)
async def test_malformed_cursor_is_422_with_detail(
    client: httpx.AsyncClient, tenant_a: TenantFixture, cursor: str
) -> None:
    response = await client.get(DATASETS, params={"cursor": cursor}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_cursor_and_page_together_are_422(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    for number in range(2):
        await make_dataset(db, tenant_a, name=f"Set {number}")
    cursor = (await list_page(client, tenant_a, page_size=1))["next_cursor"]
    response = await client.get(
        DATASETS, params={"cursor": cursor, "page": 1}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert "not both" in response.json()["detail"][0]["msg"]


@pytest.mark.backend_independent
def test_migration_counts_the_datasets_tenants_already_have(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_database(settings, "0002")
    tenants = [uuid.uuid4() for _ in range(3)]
    with sqlite3.connect(tmp_path / "old.db") as connection:
        for tenant_id, datasets in zip(tenants, (3, 1, 0), strict=True):
            connection.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, 'T', '2026-11-01')",
                (tenant_id.hex,),
            )
            connection.executemany(
                "INSERT INTO datasets (id, tenant_id, name, artifact_types, created_at, "
                "updated_at) VALUES (?, ?, 'D', '[]', '2026-11-01', '2026-11-01')",
                [(uuid.uuid4().hex, tenant_id.hex) for _ in range(datasets)],
            )

    upgrade_database(settings)

    with sqlite3.connect(tmp_path / "old.db") as connection:
        counts = dict(connection.execute("SELECT tenant_id, dataset_count FROM dataset_counts"))
    assert counts == {tenants[0].hex: 3, tenants[1].hex: 1}
