"""The SDK's models against the server's /openapi.json, so neither drifts from the other:
every JSON answer of the API has a model, every field a response schema has is in the
model with the same optionality and kind, and the model has no field the schema lacks."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Union, get_args, get_origin

import httpx
import pytest

from relay_sdk import (
    ApiKey,
    ApiKeyDetail,
    ApiKeyUsage,
    AuditEventPage,
    CreatedApiKey,
    CreatedWebhookEndpoint,
    Dataset,
    DatasetPage,
    KeyPolicy,
    LimitPool,
    LimitPoolPage,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointPage,
)
from relay_sdk.models import api_fields, field_types

pytestmark = pytest.mark.backend_independent

# (method, path, status) -> the model its body decodes into (a list: an array of them).
KEY = "/api/v1/auth/api-keys/{key_id}"
HOOKS = "/api/v1/webhook-endpoints"
HOOK = f"{HOOKS}/{{endpoint_id}}"
RESPONSES: dict[tuple[str, str, str], Any] = {
    ("post", "/api/v1/auth/api-keys", "201"): CreatedApiKey,
    ("get", "/api/v1/auth/api-keys", "200"): [ApiKey],
    ("get", KEY, "200"): ApiKeyDetail,
    ("patch", KEY, "200"): ApiKey,
    ("post", f"{KEY}/rotate", "201"): CreatedApiKey,
    ("get", f"{KEY}/usage", "200"): ApiKeyUsage,
    ("get", "/api/v1/audit-events", "200"): AuditEventPage,
    ("post", "/api/v1/datasets", "201"): Dataset,
    ("get", "/api/v1/datasets", "200"): DatasetPage,
    ("get", "/api/v1/datasets/{dataset_id}", "200"): Dataset,
    ("patch", "/api/v1/datasets/{dataset_id}", "200"): Dataset,
    ("get", "/api/v1/key-policy", "200"): KeyPolicy,
    ("put", "/api/v1/key-policy", "200"): KeyPolicy,
    ("post", "/api/v1/limit-pools", "201"): LimitPool,
    ("get", "/api/v1/limit-pools", "200"): LimitPoolPage,
    ("get", "/api/v1/limit-pools/{pool_id}", "200"): LimitPool,
    ("patch", "/api/v1/limit-pools/{pool_id}", "200"): LimitPool,
    ("post", HOOKS, "201"): CreatedWebhookEndpoint,
    ("get", HOOKS, "200"): WebhookEndpointPage,
    ("get", HOOK, "200"): WebhookEndpoint,
    ("patch", HOOK, "200"): WebhookEndpoint,
    ("get", f"{HOOK}/deliveries", "200"): WebhookDeliveryPage,
    ("post", f"{HOOK}/deliveries/{{delivery_id}}/redeliver", "202"): WebhookDelivery,
}


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    return schema


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def without_null(openapi: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema with `null` taken out of an anyOf, and whether null was allowed."""
    options = schema.get("anyOf", [schema])
    rest = [option for option in options if option.get("type") != "null"]
    assert len(rest) == 1, f"unexpected union {schema}"
    return resolve(openapi, rest[0]), len(rest) < len(options)


def without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0], len(rest) < len(get_args(annotation))
    return annotation, False


def assert_same_kind(openapi: dict[str, Any], schema: dict[str, Any], annotation: Any) -> None:
    if schema.get("type") == "array":
        assert get_origin(annotation) is tuple
        assert_same_kind(openapi, resolve(openapi, schema["items"]), get_args(annotation)[0])
    elif "additionalProperties" in schema and "properties" not in schema:
        # A JSON object with keys of its own (counts per status class, event details).
        assert get_origin(annotation) is Mapping
        key_type, value_type = get_args(annotation)
        assert key_type is str
        if schema["additionalProperties"] is True:
            assert value_type is Any
        else:
            assert_same_kind(openapi, schema["additionalProperties"], value_type)
    elif schema.get("type") == "object" or "properties" in schema:
        assert_model_matches(openapi, schema, annotation)
    elif schema.get("format") == "date-time":
        assert annotation is datetime
    elif schema.get("format") == "date":
        assert annotation is date
    else:
        python_type = {"string": str, "integer": int, "boolean": bool, "number": float}
        assert annotation is python_type[schema["type"]], (schema, annotation)


def assert_model_matches(openapi: dict[str, Any], schema: dict[str, Any], model: Any) -> None:
    fields = {field.name: field for field in api_fields(model)}
    properties = schema["properties"]
    assert set(fields) == set(properties), f"{model.__name__} vs {schema.get('title')}"
    for name, field in fields.items():
        property_schema, nullable = without_null(openapi, properties[name])
        annotation, optional = without_none(field_types(model)[name])
        assert optional == nullable, f"{model.__name__}.{name}: optionality differs"
        has_default = field.default is not dataclasses.MISSING
        assert has_default == (name not in schema.get("required", [])), f"{model.__name__}.{name}"
        assert_same_kind(openapi, property_schema, annotation)


@pytest.mark.parametrize(("method", "path", "status"), list(RESPONSES))
async def test_model_matches_the_response_schema(
    openapi: dict[str, Any], method: str, path: str, status: str
) -> None:
    response = openapi["paths"][path][method]["responses"][status]
    schema = resolve(openapi, response["content"]["application/json"]["schema"])
    model = RESPONSES[(method, path, status)]
    if isinstance(model, list):
        assert schema["type"] == "array"
        schema, model = resolve(openapi, schema["items"]), model[0]
    assert_model_matches(openapi, schema, model)


# Answers a tenant's client never reads: leak reports come from scanners, signed,
# without an API key (relayctl scan --report posts them without the SDK's client).
NOT_FOR_CLIENTS = {"/api/v1/leaked-keys"}


def test_every_json_answer_of_the_api_has_a_model(openapi: dict[str, Any]) -> None:
    answered = {
        (method, path, status)
        for path, operations in openapi["paths"].items()
        if path.startswith("/api/v1/") and path not in NOT_FOR_CLIENTS
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2") and "application/json" in response.get("content", {})
    }
    assert answered == set(RESPONSES)
