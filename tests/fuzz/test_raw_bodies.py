"""Bodies no schema would generate: random bytes, other encodings, wrong and broken
content types, JSON of every type, sent to every operation that takes a body.

Each answer must be one the OpenAPI document declares for the operation, never a
5xx, always JSON with a `detail`, and a 422 always in FastAPI's validation shape.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.common import LIVE_SERVER
from tests.fuzz.conftest import FUZZ_ENDPOINT
from tests.live_server import LiveServer

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-16",
            "application/json; charset=latin-1",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "text/plain",
            "text/json",
            "application/xml",
            "application/octet-stream",
            ";;;",
            "application/",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.strip),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=600),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.tuples(JSON_VALUES, st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig"])).map(
        lambda pair: json.dumps(pair[0], ensure_ascii=False).encode(pair[1], "replace")
    ),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


def _operations_with_bodies(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]


@pytest.fixture(scope="module")
def resources(fuzzed_server: tuple[LiveServer, str]) -> dict[str, str]:
    """A real resource for each path parameter name, so requests reach the handlers."""
    server, key = fuzzed_server
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        dataset = client.post("/api/v1/datasets", json={"name": "Sentinel"}).json()
        api_key = client.post("/api/v1/auth/api-keys", json={"name": "Sentinel"}).json()
        pool = client.post("/api/v1/limit-pools", json={"name": "Sentinel"}).json()
        endpoint = client.post("/api/v1/webhook-endpoints", json=FUZZ_ENDPOINT).json()
    return {
        "dataset_id": dataset["id"],
        "key_id": api_key["id"],
        "pool_id": pool["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": str(uuid.uuid4()),
    }


def assert_declared_error_shape(
    response: httpx.Response, operation: dict[str, Any], sent: tuple[str, bytes]
) -> None:
    context = f"{response.status_code} for {sent!r}: {response.text[:300]}"
    assert response.status_code < 500, context
    assert str(response.status_code) in operation["responses"], context
    if response.is_success:
        return
    detail = response.json()["detail"]
    if response.status_code == 422:
        assert isinstance(detail, list), context
        assert all({"type", "loc", "msg"} <= set(error) for error in detail), context
    else:
        assert isinstance(detail, str), context
        assert detail, context


def answers_as_declared(
    client: httpx.Client, key: str, method: str, path: str, operation: dict[str, Any]
) -> None:
    """Many generated bodies and content types to one operation."""

    @given(content_type=CONTENT_TYPES, body=BODIES)
    @LIVE_SERVER
    def one_request(content_type: str, body: bytes) -> None:
        # An empty content type means none at all.
        headers = {"X-API-Key": key} | ({"Content-Type": content_type} if content_type else {})
        response = client.request(method, path, content=body, headers=headers)
        assert_declared_error_shape(response, operation, (content_type, body))

    one_request()


def test_every_body_taking_operation_answers_bad_bytes_as_declared(
    fuzzed_server: tuple[LiveServer, str], resources: dict[str, str]
) -> None:
    server, key = fuzzed_server
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    operations = _operations_with_bodies(spec)
    assert {path for _, path, _ in operations} >= {"/api/v1/datasets", "/api/v1/auth/api-keys"}

    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for method, template, operation in operations:
            # An unknown parameter name fails here: give the new route a resource.
            path = re.sub(r"\{(\w+)\}", lambda match: resources[match.group(1)], template)

            answers_as_declared(client, key, method, path, operation)

        datasets = client.get("/api/v1/datasets", headers={"X-API-Key": key}).json()
    assert resources["dataset_id"] in {item["id"] for item in datasets["items"]}
