"""The OpenAPI document as tools take it (Redocly's recommended rules, generated
clients): its tags, licence and servers, each operation's security (the scope it needs,
or none), the X-API-Key scheme with the scopes in its description, the error answers
with their bodies and codes, and the headers answers carry.

Routes declare what is theirs where they are declared: an `operation_id` in the
`<resource>_<verb>` style (`datasets_list`, `api_keys_create`), a tag, a `requires()`
scope or `public()`, and their own error answers through `error_answer`. `document`
adds what is true of every operation, once the routes are in.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.security import APIKeyHeader

from relay.auth.scopes import ALL_SCOPES, FULL_ACCESS, document_scopes, scope_table
from relay.config import Settings
from relay.errors import ERROR_CODES
from relay.links import public_url
from relay.schemas import ErrorDetail, ValidationErrorDetail

TAGS: list[dict[str, Any]] = [
    {
        "name": "Datasets",
        "description": "The tenant's datasets, the example resource of the authentication "
        "workflow.",
    },
    {
        "name": "API keys",
        "description": "Create, list, read, update, rotate and revoke the tenant's keys, "
        "and read their usage. The full key is in the create and rotate answers only.",
    },
    {
        "name": "Audit events",
        "description": "The tenant's audit log: what was done to keys, datasets and members.",
    },
    {
        "name": "Leaked keys",
        "description": "Signed reports of exposed keys (no API key): each live key reported "
        "is revoked at once.",
    },
    {
        "name": "Key policy",
        "description": "The organisation's rules for every key: maximum lifetime, expiry "
        "when unused, who may make full-access keys.",
    },
    {
        "name": "Limit pools",
        "description": "A rate limit and a quota shared by several keys (a key's `pool_id`).",
    },
    {
        "name": "Webhook endpoints",
        "description": "Endpoints that receive the tenant's events, signed "
        "(Relay-Signature), and each endpoint's deliveries.",
    },
    {"name": "Health", "description": "Whether this server reaches its database (no API key)."},
]
# Relay has not chosen a public licence: the document says so rather than invent one.
LICENSE = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}

# Headers answers carry, declared once and referred to from each answer.
_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Policy": {
        "description": "The key's rate limits (IETF draft-ietf-httpapi-ratelimit-headers): "
        'one item per window of its lineage, e.g. `"key";q=600;w=60` (600 requests in any '
        "60 s). Only for a key with a limit.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each window, e.g. `"key";r=42;t=17` (42 requests, '
        "until one more frees up in 17 s). Only for a key with a limit.",
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": {
        "description": "Draft 06 (kept for older clients): the tightest window's limit.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Draft 06 (kept for older clients): requests left in it.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Draft 06 (kept for older clients): seconds until a place frees up.",
        "schema": {"type": "integer"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    },
    "Link": {
        "description": 'The next page, `<https://...?per_page=100&cursor=...>; rel="next"`; '
        "absent on the last page.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": 'The scheme to use: `APIKey realm="relay", header="X-API-Key"`.',
        "schema": {"type": "string"},
    },
}
_RATE_LIMIT_HEADERS = (
    "RateLimit-Policy",
    "RateLimit",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)


def error_answer(description: str, *codes: str) -> dict[int | str, dict[str, Any]]:
    """A `responses=` entry for an error answer: its body (ErrorDetail, or the
    validation shape for a 422) and the codes it can carry, all of one status."""
    (status,) = {ERROR_CODES[code].status for code in codes}
    model = ValidationErrorDetail if status == 422 else ErrorDetail
    listed = ", ".join(f"`{code}`" for code in codes)
    return {status: {"model": model, "description": f"{description} (code {listed})"}}


def _header_refs(names: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _scheme_description(base: str, table: list[tuple[str, str, str | None]]) -> str:
    lines = [
        base,
        "",
        "Scopes: a key with `scopes: []` (the default) has them all; a write scope "
        "includes the read scope of its resource. Each operation needs one:",
    ]
    for scope in (*ALL_SCOPES, FULL_ACCESS):
        routes = ", ".join(f"{method} {path}" for method, path, needed in table if needed == scope)
        label = "a full-access key only" if scope == FULL_ACCESS else f"`{scope}`"
        lines.append(f"- {label}: {routes}")
    return "\n".join(lines)


def _declare_headers(operation: dict[str, Any], keyed: bool) -> None:
    for status, answer in operation["responses"].items():
        names: tuple[str, ...] = ()
        if status == "429":
            names = ("Retry-After", *_RATE_LIMIT_HEADERS) if keyed else ("Retry-After",)
        elif status == "401" and keyed:
            names = ("WWW-Authenticate",)
        elif keyed and (status.startswith("2") or status in {"403", "404", "409", "422"}):
            names = _RATE_LIMIT_HEADERS
        if names:
            answer["headers"] = answer.get("headers", {}) | _header_refs(names)


def document(
    app: FastAPI, schema: dict[str, Any], settings: Settings, key_scheme: APIKeyHeader
) -> dict[str, Any]:
    """Add to FastAPI's document what is true of every operation (see the module)."""
    schema = document_scopes(app, schema, key_scheme)
    schema["info"]["license"] = LICENSE
    schema["servers"] = [{"url": public_url(settings, ""), "description": "This server"}]
    schema["tags"] = TAGS
    components = schema["components"]
    scheme = components["securitySchemes"][key_scheme.scheme_name]
    scheme["description"] = _scheme_description(scheme.get("description", ""), scope_table(app))
    components["headers"] = _HEADERS
    for operations in schema["paths"].values():
        for operation in operations.values():
            # What document_scopes gave no key requirement takes none (public() routes,
            # /healthz): said outright, so that no tool assumes a default.
            keyed = bool(operation.setdefault("security", []))
            _declare_headers(operation, keyed)
    return schema
