"""/openapi.json and /docs declare the X-API-Key scheme so that Authorize works."""

from __future__ import annotations

import re
from typing import Any

import httpx

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from tests.conftest import asgi_client

# API operations that take no key, each for a reason the route declares (public()).
PUBLIC = {"/api/v1/leaked-keys"}


def api_operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, operation) for every /api/v1 operation that takes a key."""
    return [
        (path, operation)
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/") and path not in PUBLIC
        for operation in operations.values()
    ]


async def test_public_api_operations_say_they_take_no_key(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in PUBLIC:
        for operation in spec["paths"][path].values():
            assert operation["security"] == []
            assert "x-required-scope" not in operation


async def test_openapi_declares_the_api_key_scheme_on_every_api_route(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["APIKeyHeader"]["description"],
    }
    for path, operation in api_operations(spec):
        assert [set(requirement) for requirement in operation["security"]] == [{"APIKeyHeader"}], (
            path
        )


def references(node: Any) -> list[str]:
    """Every "$ref" in a part of the document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


async def test_every_reference_resolves_from_the_documents_root(
    client: httpx.AsyncClient,
) -> None:
    """A generated client or a validator follows each $ref from the root: the leak
    report's body once pointed at "#/$defs/LeakedToken", which is nowhere there."""
    spec = (await client.get("/openapi.json")).json()
    found = references(spec)
    assert len(found) > 10
    for ref in set(found):
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            assert isinstance(node, dict), f"{ref} does not resolve"
            assert part in node, f"{ref} does not resolve"
            node = node[part]


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.text


async def test_every_api_operation_documents_its_error_answers(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: 401 and 429 reached clients without being declared.
    spec = (await client.get("/openapi.json")).json()
    for path, operation in api_operations(spec):
        assert {"401", "403", "413", "429", "503"} <= set(operation["responses"]), path
        assert "Who are you" in operation["responses"]["401"]["description"]
        assert "You may not" in operation["responses"]["403"]["description"]


async def test_every_api_operation_names_its_scope(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, operation in api_operations(spec):
        scope = operation["x-required-scope"]
        assert operation["security"] == [{"APIKeyHeader": [scope]}], path
        assert f"Requires the `{scope}` scope" in operation["description"], path


async def test_schema_lists_the_valid_scopes(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: a request valid by the schema must be accepted, so the
    # schema names exactly the scopes the server knows.
    spec = (await client.get("/openapi.json")).json()
    scopes = spec["components"]["schemas"]["ApiKeyCreate"]["properties"]["scopes"]
    assert set(scopes["items"]["enum"]) == {
        "datasets:read", "datasets:write", "api_keys:read", "api_keys:write", "audit:read"
    }  # fmt: skip
    assert scopes["maxItems"] == 5


async def test_docs_use_assets_relay_serves_under_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/docs")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources
    assert all(source.startswith("/") for source in sources), sources  # nothing from a CDN
    for source in sources:
        assert (await client.get(source)).status_code == 200, source


async def test_docs_can_be_turned_off(settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"docs": False}))
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200
