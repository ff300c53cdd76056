"""Every error body has a `code` beside its `detail`: each RelayError class declares
one (a class without one cannot be defined), each a code of ERROR_CODES with the
class's status, and the answers no RelayError gives (FastAPI's, the middleware's)
carry theirs too."""

from __future__ import annotations

import importlib
import pkgutil
import re

import httpx
import pytest

import relay
from relay.errors import ERROR_CODES, RelayError, error_body
from tests.factories import TenantFixture

DATASETS = "/api/v1/datasets"


def every_error_class() -> list[type[RelayError]]:
    """RelayError and its subclasses, once every module of relay is imported."""
    for module in pkgutil.walk_packages(relay.__path__, "relay."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)
    found, pending = [], [RelayError]
    while pending:
        error_class = pending.pop()
        found.append(error_class)
        pending += error_class.__subclasses__()
    return found


def test_every_error_class_declares_a_known_code_of_its_status() -> None:
    classes = every_error_class()
    assert len(classes) >= 15
    for error_class in classes:
        assert "code" in error_class.__dict__, error_class
        assert ERROR_CODES[error_class.code].status == error_class.status_code, error_class


def test_codes_are_snake_case_and_each_says_what_it_means() -> None:
    for code, known in ERROR_CODES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
        assert 400 <= known.status < 600
        assert known.meaning.endswith("."), code


def test_an_error_class_without_its_own_code_cannot_be_defined() -> None:
    with pytest.raises(TypeError, match="must declare its error code"):

        class Unnamed(RelayError):
            status_code = 418

    with pytest.raises(TypeError, match="not an ERROR_CODES code of status 404"):

        class Mislabelled(RelayError):
            status_code = 404
            code = "conflict"


def test_an_unknown_code_cannot_reach_a_body() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        error_body("Nope", "something_new")


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status", "code"),
    [
        ("PUT", DATASETS, b"{}", {}, 405, "method_not_allowed"),
        ("GET", "/api/v1/no-such-route", None, {}, 404, "not_found"),
        ("POST", DATASETS, b"x" * (1024 * 1024 + 1), {}, 413, "request_too_large"),
        ("POST", DATASETS, b"{}", {"Content-Length": "abc"}, 400, "bad_request"),
        ("POST", DATASETS, b"[" * 30_000, {}, 422, "validation_error"),
    ],
)
async def test_answers_no_relay_error_gives_carry_their_code(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    method: str,
    path: str,
    content: bytes | None,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    sent = tenant_a.headers | {"Content-Type": "application/json"} | headers
    response = await client.request(method, path, content=content, headers=sent)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["detail"]


async def test_a_422_keeps_fastapis_list_and_adds_its_code(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(DATASETS, json={}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required"}],
        "code": "validation_error",
    }


async def test_a_bad_cursor_is_a_validation_error_of_type_invalid_cursor(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.get(f"{DATASETS}?cursor=nope", headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    (problem,) = response.json()["detail"]
    assert (problem["type"], problem["loc"]) == ("invalid_cursor", ["query", "cursor"])
