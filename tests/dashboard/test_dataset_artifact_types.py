"""A dataset's artifact types edited on its page after creation (rename, recolour,
describe, remove, add), and a row removed before saving, over HTTP as a browser
without JavaScript sends the form: a row is removed by ticking its Remove box."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from relay.datasets.models import Dataset
from tests.dashboard.helpers import post_form, sign_up

Row = tuple[str, str, str]  # name, description, colour as the form sends them
TYPES: list[Row] = [("image", "Camera frames", "#3b82f6"), ("mask", "", "#10b981")]


def rows_form(rows: list[Row]) -> dict[str, list[str]]:
    """The artifact type rows as the form's parallel fields."""
    return {
        "artifact_name": [name for name, _, _ in rows],
        "artifact_description": [description for _, description, _ in rows],
        "artifact_color": [color for _, _, color in rows],
    }


async def new_dataset(client: httpx.AsyncClient) -> str:
    """A signed-up tenant's dataset "Scenes" with types image and mask: its page."""
    await sign_up(client)
    created = await post_form(
        client, "/datasets/new", "/datasets", {"name": "Scenes", **rows_form(TYPES)}
    )
    assert created.status_code == 303
    return str(created.headers["location"])


async def stored(app: FastAPI, page: str) -> tuple[str, list[dict[str, Any]]]:
    """The dataset's name and artifact types as stored."""
    async with app.state.db.sessionmaker() as session:
        dataset = await session.get(Dataset, uuid.UUID(page.rsplit("/", 1)[1]))
        assert dataset is not None
        return dataset.name, list(dataset.artifact_types)


async def save(
    client: httpx.AsyncClient, page: str, rows: list[Row] = TYPES, **fields: str | list[str]
) -> httpx.Response:
    """Send the dataset's edit form: its name, `rows`, then `fields` over them."""
    return await post_form(client, page, page, {"name": "Scenes", **rows_form(rows), **fields})


async def test_the_page_lists_each_type_as_an_editable_row(client: httpx.AsyncClient) -> None:
    page = (await client.get(await new_dataset(client))).text
    assert 'id="artifact-name-0" name="artifact_name" maxlength="64" value="image"' in page
    assert 'id="artifact-description-0" name="artifact_description" maxlength="500"' in page
    assert 'value="Camera frames"' in page
    assert 'id="artifact-color-1" name="artifact_color" type="color" value="#10b981"' in page
    assert 'id="artifact-name-2" name="artifact_name" maxlength="64" value=""' in page  # to add
    assert (
        'Remove<span class="visually-hidden" data-remove-name> artifact type image</span>' in page
    )
    assert 'Remove<span class="visually-hidden" data-remove-name> artifact type 3</span>' in page


async def test_renaming_recolouring_and_describing_a_type(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await new_dataset(client)
    renamed = [("frame", "Camera frames", "#3b82f6"), ("mask", "Pixels of each", "#ef4444")]
    saved = await save(client, page, renamed)
    assert saved.status_code == 303
    assert saved.headers["location"] == page
    assert await stored(app, page) == (
        "Scenes",
        [
            {"name": "frame", "description": "Camera frames", "color": "#3b82f6"},
            {"name": "mask", "description": "Pixels of each", "color": "#ef4444"},
        ],
    )
    assert "Dataset saved." in (await client.get(page)).text


async def test_a_type_ticked_remove_is_removed_and_a_filled_blank_row_added(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await new_dataset(client)
    added = ("keypoint", "Joints", "#f59e0b")
    saved = await save(client, page, [*TYPES, added], artifact_remove=["0"])
    assert saved.status_code == 303
    assert (await stored(app, page))[1] == [
        {"name": "mask", "description": None, "color": "#10b981"},
        {"name": "keypoint", "description": "Joints", "color": "#f59e0b"},
    ]


async def test_removing_every_type_leaves_none(app: FastAPI, client: httpx.AsyncClient) -> None:
    page = await new_dataset(client)
    saved = await save(client, page, artifact_remove=["0", "1"])
    assert saved.status_code == 303
    assert await stored(app, page) == ("Scenes", [])


async def test_a_row_removed_on_the_create_form_is_not_created(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    created = await post_form(
        client,
        "/datasets/new",
        "/datasets",
        {"name": "Scenes", **rows_form(TYPES), "artifact_remove": "1"},
    )
    assert created.status_code == 303
    assert [row["name"] for row in (await stored(app, created.headers["location"]))[1]] == ["image"]


async def test_repeated_names_are_refused_with_what_was_typed_and_nothing_saved(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await new_dataset(client)
    before = await stored(app, page)
    twice = [("image", "Typed here", "#3b82f6"), ("image", "", "#10b981")]
    refused = await save(client, page, twice, name="Renamed")
    assert refused.status_code == 422
    text = refused.text
    message = "Give each artifact type a different name"
    assert (
        f'id="artifact-types-error"><span class="visually-hidden">Error: </span>{message}' in text
    )
    assert f'<a href="#artifact-types">{message}</a>' in text
    assert 'value="Renamed"' in text  # what was typed stays, beside its message
    assert 'value="Typed here"' in text
    assert text.count('name="artifact_name" maxlength="64" value="image"') == 2
    assert await stored(app, page) == before


async def test_a_bad_colour_is_refused_beside_its_field_and_nothing_saved(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    page = await new_dataset(client)
    before = await stored(app, page)
    refused = await save(client, page, [TYPES[0], ("mask", "", "green")])
    assert refused.status_code == 422
    text = refused.text
    assert 'value="green" aria-invalid="true" aria-describedby="artifact-color-1-error"' in text
    assert (
        'id="artifact-color-1-error"><span class="visually-hidden">Error: </span>Choose a' in text
    )
    assert '<a href="#artifact-color-1">Choose a colour</a>' in text
    assert "String should" not in text
    assert await stored(app, page) == before


async def test_an_unknown_dataset_goes_back_to_the_list_with_an_error(
    client: httpx.AsyncClient,
) -> None:
    page = await new_dataset(client)
    unknown = f"/datasets/{uuid.uuid4()}"
    for rows in (TYPES, [TYPES[0], TYPES[0]]):  # valid, then refused
        answer = await post_form(client, page, unknown, {"name": "Scenes", **rows_form(rows)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/datasets"
        listing = await client.get("/datasets")
        assert 'class="flash flash-error" role="alert"' in listing.text
