"""Every text input of the API under a hostile Unicode corpus, one field at a time:
each string in each operation's body (found in /openapi.json, nested ones too),
each query and path parameter, and each entry of a signed leak report. Whatever
the value (NUL, lone surrogates, characters that grow when case-mapped, combining
marks, bidirectional overrides, 10,000 characters), the answer is never a 5xx, and
text that is accepted comes back as the database keeps it: NFC, within its column.

The review's instances: "İ" * 300 + "@example.com" (600 characters once lowered)
and a leak report's URL with a NUL were 500s on PostgreSQL. The corpus, by class, is
tests/fuzz/corpus.py: the dashboard's forms get the same values in
tests/fuzz/test_dashboard_forms.py, the stored headers in test_stored_headers.py.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from tests.auth.workers import ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key
from tests.fuzz.conftest import FUZZ_ENDPOINT, FUZZ_SERVER_KEY
from tests.fuzz.corpus import HOSTILE
from tests.leaks.reporter import Reporter

# A valid body for each operation with one: the fuzzer changes one string at a time.
BASE_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/datasets"): {
        "name": "Fuzz",
        "description": "d",
        "artifact_types": [{"name": "box", "description": "d", "color": "#3B82F6"}],
    },
    ("patch", "/api/v1/datasets/{dataset_id}"): {
        "name": "Fuzz",
        "description": "d",
        "artifact_types": [{"name": "box", "description": "d", "color": "#3B82F6"}],
    },
    ("post", "/api/v1/auth/api-keys"): {
        "name": "Fuzz",
        "expires_at": "2030-12-31T23:59:59Z",
        "scopes": ["datasets:read"],
    },
    ("patch", "/api/v1/auth/api-keys/{key_id}"): {"name": "Fuzz"},
    ("post", "/api/v1/auth/api-keys/{key_id}/rotate"): {"grace_period_seconds": 0},
    ("put", "/api/v1/key-policy"): {
        "max_lifetime_days": None,
        "expire_unused_after_days": None,
        "full_access_keys": "allowed",
    },
    ("post", "/api/v1/limit-pools"): {"name": "Fuzz"},
    ("patch", "/api/v1/limit-pools/{pool_id}"): {"name": "Fuzz"},
    ("post", "/api/v1/webhook-endpoints"): FUZZ_ENDPOINT,
    ("patch", "/api/v1/webhook-endpoints/{endpoint_id}"): FUZZ_ENDPOINT,
}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def string_places(schema: dict[str, Any], document: dict[str, Any]) -> Iterator[list[Any]]:
    """Paths (keys and list indexes) of every string a body of `schema` may hold."""
    schema = _resolve(schema, document)
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for option in options:
        option = _resolve(option, document)
        kind = option.get("type")
        if kind == "string":
            yield []
        elif kind == "object":
            for name, sub in option.get("properties", {}).items():
                yield from ([name, *rest] for rest in string_places(sub, document))
        elif kind == "array":
            yield from ([0, *rest] for rest in string_places(option.get("items", {}), document))


def with_value(body: Any, place: list[Any], value: str) -> Any:
    """A copy of `body` with `value` at `place` (made where the base body has none)."""
    copied = json.loads(json.dumps(body))
    if not place:
        return value
    node = copied
    for step in place[:-1]:
        node = node[step] if step in node or isinstance(node, list) else node.setdefault(step, {})
    node[place[-1]] = value
    return copied


def unreachable(body: Any, place: list[Any]) -> bool:
    node = body
    for step in place[:-1]:
        if isinstance(node, list):
            if not node:
                return True
        elif step not in node:
            return True
        node = node[step]
    return False


def _storable_as_kept(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and unicodedata.is_normalized("NFC", value)
    if isinstance(value, dict):
        return all(_storable_as_kept(item) for item in value.values())
    if isinstance(value, list):
        return all(_storable_as_kept(item) for item in value)
    return True


@pytest.fixture
async def reporting_app(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[FastAPI, Reporter]]:
    reporter = Reporter()
    app = create_app(
        settings.model_copy(
            update={
                "leak_reporter_keys": reporter.setting,
                "secret_key": FUZZ_SERVER_KEY,  # webhook endpoints can be made (loopback)
                "webhook_allow_private": True,
            }
        )
    )
    async with app.router.lifespan_context(app):
        await ready(app)
        yield app, reporter


async def test_no_api_text_input_is_a_server_error(
    reporting_app: tuple[FastAPI, Reporter], db: Database, tenant_a: TenantFixture
) -> None:
    app, reporter = reporting_app
    document = app.openapi()
    failures: list[str] = []
    async with asgi_client(app) as client:
        headers = tenant_a.headers
        dataset = await client.post("/api/v1/datasets", json={"name": "Aim"}, headers=headers)
        pool = await client.post("/api/v1/limit-pools", json={"name": "Aim"}, headers=headers)
        endpoint = await client.post(
            "/api/v1/webhook-endpoints", json=FUZZ_ENDPOINT, headers=headers
        )
        ids = {
            "dataset_id": dataset.json()["id"],
            "key_id": str(tenant_a.key_id),
            "pool_id": pool.json()["id"],
            "endpoint_id": endpoint.json()["id"],
            "delivery_id": str(uuid.uuid4()),
        }

        async def call(method: str, url: str, body: Any = None) -> httpx.Response:
            content = None if body is None else json.dumps(body).encode()
            request_headers = headers | {"Content-Type": "application/json"}
            return await client.request(method, url, content=content, headers=request_headers)

        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if path == "/api/v1/leaked-keys":
                    continue  # signed: below
                url = path.format(**ids)
                base = BASE_BODIES.get((method, path))
                body_schema = (
                    operation.get("requestBody", {})
                    .get("content", {})
                    .get("application/json", {})
                    .get("schema")
                )
                if body_schema is not None:
                    assert base is not None, f"{method} {path}: give the fuzzer a base body"
                    for place in string_places(body_schema, document):
                        if unreachable(base, place):
                            continue
                        for value in HOSTILE:
                            answer = await call(method, url, with_value(base, place, value))
                            if answer.status_code >= 500 or (
                                answer.is_success and not _storable_as_kept(answer.json())
                            ):
                                failures.append(f"{method} {path} {place} {value[:20]!r}")
                for parameter in operation.get("parameters", []):
                    if parameter["in"] not in ("query", "path"):
                        continue
                    for value in HOSTILE:
                        encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
                        if parameter["in"] == "path":
                            target = path.replace(f"{{{parameter['name']}}}", encoded)
                            target = target.format(**ids)
                        else:
                            target = f"{url}?{parameter['name']}={encoded}"
                        answer = await call(method, target, base)
                        if answer.status_code >= 500:
                            failures.append(f"{method} {path} {parameter['name']} {value[:20]!r}")

        # A signed leak report, each field of its one entry in turn: never a 5xx, and
        # the key is revoked whatever its entry's other fields hold.
        entry = {"token": "", "type": "relay_api_key", "url": "https://x", "source": "content"}
        senders = itertools.count()
        for field in entry:
            for value in HOSTILE:
                _, key = await make_api_key(db, tenant_a)
                fuzzed = entry | {"token": key} | ({field: value} if field != "token" else {})
                if field == "token":
                    fuzzed["token"] = value
                body, signed = reporter.report_entries([fuzzed])
                # From an address of its own: 60 reports a minute is an address's share.
                # From an address of its own: an address's share is 60 reports a
                # minute, and 30 refused keys (the revoked ones checked below).
                number = next(senders)
                async with asgi_client(app, f"10.0.{number // 250}.{number % 250}") as sender:
                    answer = await sender.post("/api/v1/leaked-keys", content=body, headers=signed)
                    if answer.status_code >= 500:
                        failures.append(f"leak report {field} {value[:20]!r}")
                    if field != "token":
                        used = await sender.get("/api/v1/datasets", headers={"X-API-Key": key})
                        if used.status_code != 401:
                            failures.append(f"leak report {field} {value[:20]!r}: not revoked")
    assert failures == [], "\n".join(failures)
