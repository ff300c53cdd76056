"""Bad input of every kind gets a 4xx with a `detail`, never a 500, and writes nothing."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from relay.db import Database
from relay.errors import is_connection_failure
from tests.factories import TenantFixture, make_dataset

DATASETS = "/api/v1/datasets"
API_KEYS = "/api/v1/auth/api-keys"


async def assert_nothing_created(client: httpx.AsyncClient, tenant: TenantFixture) -> None:
    assert (await client.get(DATASETS, headers=tenant.headers)).json()["total"] == 0


MALFORMED_BODIES = [
    b"{",
    b'{"name": ',
    b"not json",
    b"\xff\xfe\x00",  # not even UTF-8: FastAPI's own answer is a 400
    b"\xff\xfen",
    b"[" * 100_000,  # nested past Python's recursion limit
    b"[]",
    b"null",
    b'"a string"',
]


def assert_validation_shape(response: httpx.Response) -> None:
    """422 with FastAPI's `detail`: a list of {type, loc, msg}."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert {"type", "loc", "msg"} <= set(error)


@pytest.mark.parametrize("content", MALFORMED_BODIES)
@pytest.mark.parametrize("method", ["POST /datasets", "POST /auth/api-keys", "PATCH /datasets/"])
async def test_every_malformed_body_is_422_in_the_validation_shape(
    client: httpx.AsyncClient, tenant_a: TenantFixture, db: Database, method: str, content: bytes
) -> None:
    verb, path = method.split(" ")
    dataset = await make_dataset(db, tenant_a, name="Kept")
    if path.endswith("/"):
        path += str(dataset.id)
    keys_before = (await client.get(API_KEYS, headers=tenant_a.headers)).json()
    response = await client.request(
        verb,
        "/api/v1" + path,
        content=content,
        headers=tenant_a.headers | {"Content-Type": "application/json"},
    )
    assert_validation_shape(response)
    page = (await client.get(DATASETS, headers=tenant_a.headers)).json()
    assert [item["name"] for item in page["items"]] == ["Kept"]
    assert (await client.get(API_KEYS, headers=tenant_a.headers)).json() == keys_before


async def test_huge_string_is_422_and_not_echoed(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(DATASETS, json={"name": "x" * 500_000}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert len(response.content) < 2_000
    await assert_nothing_created(client, tenant_a)


async def test_an_unknown_field_with_a_huge_name_is_not_echoed_whole(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    """An outside review: a 1 MB unknown field name came back whole in `loc`."""
    name = "k" * 900_000
    response = await client.post(DATASETS, json={"name": "ok", name: 1}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert len(response.content) < 2_000
    (error,) = response.json()["detail"]
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ["body", "k" * 100 + "… (900000 characters)"]
    await assert_nothing_created(client, tenant_a)


async def test_body_over_one_mebibyte_is_413(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(
        DATASETS, json={"name": "x" * (1024 * 1024 + 1)}, headers=tenant_a.headers
    )
    assert response.status_code == 413
    assert response.json()["detail"]
    await assert_nothing_created(client, tenant_a)


async def test_chunked_body_over_one_mebibyte_is_413(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        DATASETS, content=chunks(), headers=tenant_a.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_unknown_route_is_404_json(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for path in ["/api/v1/nothing-here", "/api/v2/datasets", "/nope"]:
        response = await client.get(path, headers=tenant_a.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found", "code": "not_found"}


async def test_wrong_method_is_405_json(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.put(DATASETS, json={}, headers=tenant_a.headers)
    assert response.status_code == 405
    assert response.json()["detail"]


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "%00", "' OR 1=1 --"])
async def test_malformed_uuid_in_path_is_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, bad_id: str
) -> None:
    for path in [f"{DATASETS}/{bad_id}", f"/api/v1/auth/api-keys/{bad_id}"]:
        response = await client.request(
            "DELETE" if "api-keys" in path else "GET", path, headers=tenant_a.headers
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][0] == "path"


async def test_wrong_types_are_422(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for body in [
        {"name": ["a"]},
        {"name": {"a": 1}},
        {"name": True},
        {"name": "ok", "description": 3},
    ]:
        response = await client.post(DATASETS, json=body, headers=tenant_a.headers)
        assert response.status_code == 422, body
    await assert_nothing_created(client, tenant_a)


async def test_validation_errors_do_not_echo_the_input(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ok", "scopes": ["secret-looking-value"]},
        headers=tenant_a.headers,
    )
    assert response.status_code == 422
    assert "secret-looking-value" not in response.text


async def test_validation_errors_carry_no_python_objects(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    # Found by the fuzzer: a custom validator's ValueError came back as "ctx": {"error": {}}.
    response = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ok", "expires_at": "2000-01-01T00:00:00Z"},
        headers=tenant_a.headers,
    )
    (error,) = response.json()["detail"]
    assert set(error) == {"type", "loc", "msg"}
    assert error["msg"] == "Value error, expires_at must be in the future"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/api-keys", {"name": "\x00"}, "name"),
        ("/api/v1/datasets", {"name": "a\x00b"}, "name"),
        ("/api/v1/datasets", {"name": "ok", "description": "\x1b[31m"}, "description"),
    ],
)
async def test_control_characters_are_422_not_a_database_error(
    client: httpx.AsyncClient, tenant_a: TenantFixture, path: str, body: dict[str, str], field: str
) -> None:
    # Found by the fuzzer on PostgreSQL, which cannot store NUL: it was a 500.
    response = await client.post(path, json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert "control characters" in response.json()["detail"][0]["msg"]


async def test_text_may_hold_tabs_and_newlines(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    body = {"name": "Street scenes", "description": "line one\nline two\twith a tab"}
    response = await client.post("/api/v1/datasets", json=body, headers=tenant_a.headers)
    assert response.status_code == 201


def test_a_full_database_server_is_unavailable_not_an_error() -> None:
    # "too many connections": the read pool opens connections while requests run.
    assert is_connection_failure(asyncpg.TooManyConnectionsError("sorry, too many clients"))
