"""/api/v1/datasets: create, list with pages, read, partial update, delete."""

from __future__ import annotations

import uuid

import httpx
import pytest

from relay.db import Database
from tests.factories import TenantFixture, make_dataset

DATASETS = "/api/v1/datasets"
BODY = {
    "name": "Street scenes",
    "description": "Dashcam frames",
    "artifact_types": [
        {"name": "bounding_box", "description": "Cars", "color": "#3B82F6"},
        {"name": "mask"},
    ],
}


async def test_create_returns_the_dataset(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(DATASETS, json=BODY, headers=tenant_a.headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "description", "artifact_types", "created_at", "updated_at"}
    uuid.UUID(body["id"])
    assert body["name"] == "Street scenes"
    assert body["description"] == "Dashcam frames"
    assert body["artifact_types"] == [
        {"name": "bounding_box", "description": "Cars", "color": "#3B82F6"},
        {"name": "mask", "description": None, "color": None},
    ]
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")


async def test_get_returns_what_was_created(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = (await client.post(DATASETS, json=BODY, headers=tenant_a.headers)).json()
    fetched = await client.get(f"{DATASETS}/{created['id']}", headers=tenant_a.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_missing_dataset_is_404(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.get(f"{DATASETS}/{uuid.uuid4()}", headers=tenant_a.headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Dataset not found", "code": "not_found"}


async def test_list_pages_newest_first_with_total(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    for number in range(5):
        await make_dataset(db, tenant_a, name=f"Dataset {number}")

    first = (await client.get(f"{DATASETS}?page=1&page_size=2", headers=tenant_a.headers)).json()
    last = (await client.get(f"{DATASETS}?page=3&page_size=2", headers=tenant_a.headers)).json()
    default = (await client.get(DATASETS, headers=tenant_a.headers)).json()

    assert [item["name"] for item in first["items"]] == ["Dataset 4", "Dataset 3"]
    assert (first["total"], first["page"], first["page_size"]) == (5, 1, 2)
    assert [item["name"] for item in last["items"]] == ["Dataset 0"]
    assert (default["page"], default["page_size"], len(default["items"])) == (1, 20, 5)
    beyond = (await client.get(f"{DATASETS}?page=10&page_size=2", headers=tenant_a.headers)).json()
    assert (beyond["items"], beyond["total"]) == ([], 5)


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page_size=0", "page_size=101", "page=abc", "page_size=1.5"]
)
async def test_out_of_range_paging_is_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, query: str
) -> None:
    response = await client.get(f"{DATASETS}?{query}", headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = (await client.post(DATASETS, json=BODY, headers=tenant_a.headers)).json()
    response = await client.patch(
        f"{DATASETS}/{created['id']}", json={"name": "Renamed"}, headers=tenant_a.headers
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["description"] == created["description"]
    assert updated["artifact_types"] == created["artifact_types"]
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]


async def test_patch_can_clear_the_description_and_replace_artifact_types(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = (await client.post(DATASETS, json=BODY, headers=tenant_a.headers)).json()
    response = await client.patch(
        f"{DATASETS}/{created['id']}",
        json={"description": None, "artifact_types": [{"name": "keypoint"}]},
        headers=tenant_a.headers,
    )
    assert response.json()["description"] is None
    assert [t["name"] for t in response.json()["artifact_types"]] == ["keypoint"]


@pytest.mark.parametrize("body", [{"name": None}, {"artifact_types": None}, {"name": ""}])
async def test_patch_refuses_nulls_and_blanks_for_required_fields(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, body: dict[str, object]
) -> None:
    dataset = await make_dataset(db, tenant_a)
    response = await client.patch(f"{DATASETS}/{dataset.id}", json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    unchanged = (await client.get(f"{DATASETS}/{dataset.id}", headers=tenant_a.headers)).json()
    assert unchanged["name"] == "Street scenes"


async def test_delete_removes_the_dataset(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    dataset = await make_dataset(db, tenant_a)
    response = await client.delete(f"{DATASETS}/{dataset.id}", headers=tenant_a.headers)
    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(f"{DATASETS}/{dataset.id}", headers=tenant_a.headers)
    assert gone.status_code == 404
    again = await client.delete(f"{DATASETS}/{dataset.id}", headers=tenant_a.headers)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        (
            {"name": "ok", "artifact_types": [{"name": "Has Spaces"}]},
            ["body", "artifact_types", 0, "name"],
        ),
        (
            {"name": "ok", "artifact_types": [{"name": "a" * 65}]},
            ["body", "artifact_types", 0, "name"],
        ),
        (
            {"name": "ok", "artifact_types": [{"name": "a", "color": "red"}]},
            ["body", "artifact_types", 0, "color"],
        ),
        (
            {"name": "ok", "artifact_types": [{"name": "a"}, {"name": "a"}]},
            ["body", "artifact_types"],
        ),
        (
            {"name": "ok", "artifact_types": [{"name": f"t{i}"} for i in range(51)]},
            ["body", "artifact_types"],
        ),
        ({"name": "ok", "artifact_types": "mask"}, ["body", "artifact_types"]),
        ({"name": "ok", "description": "x" * 5001}, ["body", "description"]),
    ],
    ids=[
        "no-name",
        "long-name",
        "bad-type-name",
        "long-type-name",
        "bad-color",
        "duplicate-types",
        "too-many-types",
        "types-not-a-list",
        "long-description",
    ],
)
async def test_invalid_dataset_is_422_and_nothing_is_created(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    body: dict[str, object],
    location: list[object],
) -> None:
    response = await client.post(DATASETS, json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location
    assert (await client.get(DATASETS, headers=tenant_a.headers)).json()["total"] == 0
