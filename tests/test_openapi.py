"""/openapi.json as tools take it, and /docs: the X-API-Key scheme (Authorize works)
with the scopes, operation ids in one style, declared tags, servers and licence, and
each operation's error answers with their bodies, codes and headers."""

from __future__ import annotations

import re
from typing import Any

import httpx

from relay.app import create_app
from relay.auth.scopes import ALL_SCOPES, FULL_ACCESS
from relay.config import Settings
from relay.db import Database
from relay.errors import ERROR_CODES
from relay.links import public_url
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
        assert {"401", "403", "413", "422", "429", "503"} <= set(operation["responses"]), path
        assert "Who are you" in operation["responses"]["401"]["description"]
        assert "You may not" in operation["responses"]["403"]["description"]


def statuses_that_can_happen(path: str, operation_id: str) -> set[str]:
    """The 4xx answers an operation can give, from what it is: every keyed operation is
    authenticated (401), scoped (403), validated (422: each takes a parameter or a
    body) and limited (429); 404 only where the path names a resource, 409 only where a
    state can conflict."""
    if path == "/healthz":
        return set()
    answers = {"401", "413", "422", "429"}
    if path not in PUBLIC:
        answers.add("403")
    if "{" in path:
        answers.add("404")
    if operation_id in {
        "api_keys_rotate",
        "leaked_keys_report",
        "limit_pools_delete",
        "webhook_endpoints_create",
    }:
        answers.add("409")
    return answers


async def test_each_operation_declares_exactly_the_4xx_answers_it_can_give(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            declared = {status for status in operation["responses"] if status.startswith("4")}
            assert declared == statuses_that_can_happen(path, operation["operationId"]), path


async def test_every_error_answer_declares_its_body_and_codes(client: httpx.AsyncClient) -> None:
    """Each 4xx and 5xx answer has a body with `detail` and `code`, and says which codes
    it carries, each a known code of that status."""
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if status[0] not in "45":
                    continue
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                body = ref.rsplit("/", 1)[1]
                assert body == ("ValidationErrorDetail" if status == "422" else "ErrorDetail")
                assert set(schemas[body]["required"]) == {"detail", "code"}
                codes = re.findall(r"`([a-z_]+)`", answer["description"].split("(code")[-1])
                assert codes, (path, status)
                assert {ERROR_CODES[code].status for code in codes} == {int(status)}, path


async def test_error_bodies_list_the_codes_in_the_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    code = spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]
    assert code["type"] == "string"  # not an enum: new codes must not break old clients
    for known in ERROR_CODES:
        assert f"`{known}`" in code["description"]
    validation = spec["components"]["schemas"]["ValidationErrorDetail"]["properties"]
    assert validation["code"]["const"] == "validation_error"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


OPERATION_ID = re.compile(r"[a-z]+(_[a-z]+)*")


async def test_operation_ids_are_the_resource_then_the_verb(client: httpx.AsyncClient) -> None:
    """One style, what a generated client names its functions: `datasets_list`,
    `api_keys_create`; the resource is the operation's tag, as a generated client
    groups them."""
    spec = (await client.get("/openapi.json")).json()
    ids = []
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            operation_id = operation["operationId"]
            (tag,) = operation["tags"]
            resource = tag.lower().replace(" ", "_")
            assert OPERATION_ID.fullmatch(operation_id), operation_id
            assert operation_id.startswith(f"{resource}_"), (path, operation_id)
            ids.append(operation_id)
    assert len(ids) == len(set(ids))
    assert {"datasets_list", "api_keys_create", "api_keys_revoke", "health_check"} <= set(ids)


async def test_tags_are_declared_with_a_description(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    declared = {tag["name"]: tag["description"] for tag in spec["tags"]}
    used = {tag for ops in spec["paths"].values() for op in ops.values() for tag in op["tags"]}
    assert used == set(declared)
    assert all(declared.values())


async def test_servers_license_and_public_operations(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["servers"] == [{"url": public_url(settings, ""), "description": "This server"}]
    assert spec["info"]["license"]["name"]
    # Operations that take no key say so, rather than leave a default to guess.
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/leaked-keys"]["post"]["security"] == []


async def test_the_key_schemes_description_lists_every_scope_and_its_operations(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    description = spec["components"]["securitySchemes"]["APIKeyHeader"]["description"]
    for scope in ALL_SCOPES:
        assert f"- `{scope}`: " in description
    assert "- `datasets:write`: DELETE /api/v1/datasets/{dataset_id}, " in description


async def test_answers_declare_the_headers_they_carry(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    listed = spec["paths"]["/api/v1/datasets"]["get"]["responses"]
    assert {"RateLimit", "RateLimit-Policy", "RateLimit-Remaining"} <= set(listed["200"]["headers"])
    assert {"Retry-After", "RateLimit"} <= set(listed["429"]["headers"])
    assert set(listed["401"]["headers"]) == {"WWW-Authenticate"}
    keys = spec["paths"]["/api/v1/auth/api-keys"]["get"]["responses"]
    assert "Link" in keys["200"]["headers"]
    report = spec["paths"]["/api/v1/leaked-keys"]["post"]["responses"]
    assert set(report["429"]["headers"]) == {"Retry-After"}  # a limit per address


async def test_every_api_operation_names_its_scope(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, operation in api_operations(spec):
        scope = operation["x-required-scope"]
        assert operation["security"] == [{"APIKeyHeader": [scope]}], path
        needed = (
            "Requires a full-access key"
            if scope == FULL_ACCESS
            else f"Requires the `{scope}` scope"
        )
        assert needed in operation["description"], path


async def test_schema_lists_the_valid_scopes(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: a request valid by the schema must be accepted, so the
    # schema names exactly the scopes the server knows.
    spec = (await client.get("/openapi.json")).json()
    scopes = spec["components"]["schemas"]["ApiKeyCreate"]["properties"]["scopes"]
    assert set(scopes["items"]["enum"]) == {
        "datasets:read", "datasets:write", "api_keys:read", "api_keys:write", "audit:read",
        "webhooks:read", "webhooks:write",
    }  # fmt: skip
    assert scopes["maxItems"] == 7


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
