"""The list contract (relay.pagination): every /api/v1 list, nested ones included
(a webhook endpoint's deliveries), takes `cursor` and `page_size` and answers `items`
and `next_cursor` (the key list alone, older than the contract, keeps its bare array,
its next page in a Link header), and one keyset helper makes every page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from relay.pagination import CursorPage, KeysetPage, Position, decode_cursor, keyset_page

pytestmark = pytest.mark.backend_independent

KEY_LIST = "/api/v1/auth/api-keys"
# GETs that read one object at a path not ending in its id: a tenant's one key policy,
# a key's usage. Every other such GET is a list, so a new one is held to the contract.
ONE_OBJECT = {"/api/v1/key-policy", "/api/v1/auth/api-keys/{key_id}/usage"}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def list_operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every /api/v1 GET but those reading one object: by its id (the path ends in a
    parameter) or in ONE_OBJECT. Operation ids name the verb, so a list's says `list`."""
    gets = {
        path: operations["get"]
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/") and "get" in operations
    }
    assert set(gets) >= ONE_OBJECT, "ONE_OBJECT names a GET that is gone"
    lists = {
        path: get for path, get in gets.items() if not path.endswith("}") and path not in ONE_OBJECT
    }
    for path, get in gets.items():
        assert ("_list" in get["operationId"]) == (path in lists), f"{path}: a list or not?"
    return lists


async def test_every_list_holds_the_contract(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    lists = list_operations(spec)
    assert {
        "/api/v1/datasets",
        "/api/v1/audit-events",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries",
        KEY_LIST,
    } <= set(lists)
    for path, operation in lists.items():
        answer = operation["responses"]["200"]
        schema = resolve(spec, answer["content"]["application/json"]["schema"])
        parameters = {parameter["name"] for parameter in operation["parameters"]}
        if path == KEY_LIST:
            # Older than the contract, its shape kept: a bare array, the next page in a
            # Link header.
            assert schema["type"] == "array"
            assert "Link" in answer["headers"]
            assert {"cursor", "per_page"} <= parameters
            continue
        assert {"cursor", "page_size"} <= parameters, path
        assert {"items", "next_cursor"} <= set(schema["required"]), path
        assert schema["properties"]["items"]["type"] == "array", path
        next_cursor = schema["properties"]["next_cursor"]["anyOf"]
        assert {option["type"] for option in next_cursor} == {"string", "null"}, path


async def test_a_list_that_cannot_count_cheaply_has_no_total(client: httpx.AsyncClient) -> None:
    """`total` only where it costs O(1): the datasets' count row, never the audit log."""
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "total" in schemas["DatasetPage"]["properties"]
    assert "total" not in schemas["AuditEventPage"]["properties"]


def test_a_new_list_declares_the_contract_by_subclassing_cursor_page() -> None:
    class WidgetPage(CursorPage[int]):
        total: int

    schema = WidgetPage.model_json_schema()
    assert schema["title"] == "WidgetPage"
    assert set(schema["required"]) == {"items", "next_cursor", "total"}
    page = WidgetPage(items=[1, 2], next_cursor=None, total=2)
    assert page.model_dump() == {"items": [1, 2], "next_cursor": None, "total": 2}


def positions(count: int) -> list[Position]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [Position(start - timedelta(seconds=n), uuid.uuid4()) for n in range(count)]


def test_keyset_page_shows_size_rows_and_starts_the_next_after_the_last() -> None:
    rows = positions(4)  # three asked for, and one more read
    page = keyset_page(rows, 3, lambda row: row)
    assert (list(page.items), page.next_position) == (rows[:3], rows[2])
    tenant = uuid.uuid4()
    cursor = page.next_cursor(tenant)
    assert cursor is not None
    assert decode_cursor(tenant, cursor) == rows[2]


@pytest.mark.parametrize("count", [0, 2, 3])
def test_keyset_page_is_the_last_when_no_extra_row_came(count: int) -> None:
    rows = positions(count)
    page = keyset_page(rows, 3, lambda row: row)
    assert page == KeysetPage(rows, None)
    assert page.next_cursor(uuid.uuid4()) is None
