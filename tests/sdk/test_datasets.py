"""Datasets through the SDK against a real server, with both clients."""

from __future__ import annotations

import pytest

from relay_sdk import (
    NOT_GIVEN,
    APIStatusError,
    ArtifactType,
    Dataset,
    NotFoundError,
    ValidationError,
)
from tests.sdk.conftest import Connect

pytestmark = pytest.mark.backend_independent


async def test_dataset_crud(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    box = ArtifactType("bounding_box", color="#3B82F6")
    dataset = await relay.datasets.create("Street scenes", artifact_types=[box])
    assert isinstance(dataset, Dataset)
    assert dataset.artifact_types == (box,)
    assert dataset.created_at.tzinfo is not None

    assert await relay.datasets.get(dataset.id) == dataset
    renamed = await relay.datasets.update(dataset.id, name="Renamed")
    assert (renamed.name, renamed.artifact_types) == ("Renamed", (box,))
    assert renamed.updated_at >= dataset.updated_at

    await relay.datasets.delete(dataset.id)
    with pytest.raises(NotFoundError) as missing:
        await relay.datasets.get(dataset.id)
    assert missing.value.detail == "Dataset not found"


async def test_update_changes_only_the_fields_given(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    dataset = await relay.datasets.create("Street scenes", description="Cars and bikes")
    kept = await relay.datasets.update(dataset.id, name="Renamed", description=NOT_GIVEN)
    assert kept.description == "Cars and bikes"
    cleared = await relay.datasets.update(dataset.id, description=None)
    assert (cleared.name, cleared.description) == ("Renamed", None)


async def test_iter_goes_through_every_page(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    names = [f"Dataset {number}" for number in range(7)]
    for name in names:
        await relay.datasets.create(name)
    first_page = await relay.datasets.list(page_size=3)
    assert (first_page.total, len(first_page.items)) == (7, 3)
    assert [dataset.name async for dataset in relay.datasets.iter(page_size=3)] == names[::-1]


async def test_iter_follows_cursors_so_changes_meanwhile_skip_or_repeat_nothing(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    for number in range(6):
        await relay.datasets.create(f"D{number}")
    seen = []
    async for dataset in relay.datasets.iter(page_size=2):
        seen.append(dataset.name)
        if dataset.name == "D4":
            # Page numbers would shift here: a newer dataset and a deleted seen one.
            await relay.datasets.create("Newer")
            first = (await relay.datasets.list(page_size=1)).items[0]
            assert first.name == "Newer"
            seen_one = next(
                d for d in (await relay.datasets.list(page_size=3)).items if d.name == "D5"
            )
            await relay.datasets.delete(seen_one.id)
    assert seen == ["D5", "D4", "D3", "D2", "D1", "D0"]
    page = await relay.datasets.list(page_size=2)
    assert page.page == 1
    assert page.next_cursor is not None
    following = await relay.datasets.list(cursor=page.next_cursor, page_size=2)
    assert following.page is None
    assert [dataset.name for dataset in following.items] == ["D3", "D2"]  # after Newer, D4


async def test_iter_over_nothing_yields_nothing(connect: Connect, api_key: str) -> None:
    assert [dataset async for dataset in connect(api_key).datasets.iter()] == []


async def test_an_invalid_dataset_is_a_validation_error_naming_the_field(
    connect: Connect, api_key: str
) -> None:
    with pytest.raises(ValidationError) as invalid:
        await connect(api_key).datasets.create("")
    assert invalid.value.status_code == 422
    assert str(invalid.value).startswith("422: name: ")
    assert invalid.value.detail[0]["loc"] == ["body", "name"]


async def test_an_id_cannot_reach_another_route(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    await relay.datasets.create("Street scenes")
    # Unescaped, "../datasets" would read the list; escaped, it is no dataset at all.
    with pytest.raises(APIStatusError) as refused:
        await relay.datasets.get("../datasets")
    assert refused.value.status_code in (404, 422)
