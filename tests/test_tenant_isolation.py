"""The tenant isolation matrix, generated from the app's own route table.

For every /api/v1 operation whose path names a resource id, tenant B's key against
tenant A's resource must answer exactly as a resource that does not exist (status
and body), and leave all of A's rows as they were. A new route is covered without
editing this file; a route whose id this file cannot make a resource for fails
until RESOURCES learns it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from relay.db import Base, Database
from tests.factories import TenantFixture, make_api_key, make_dataset


async def _dataset(db: Database, tenant: TenantFixture) -> uuid.UUID:
    return (await make_dataset(db, tenant)).id


async def _api_key(db: Database, tenant: TenantFixture) -> uuid.UUID:
    return (await make_api_key(db, tenant))[0]


# Path parameter name -> how to make one such resource for a tenant.
RESOURCES: dict[str, Callable[[Database, TenantFixture], Awaitable[uuid.UUID]]] = {
    "dataset_id": _dataset,
    "key_id": _api_key,
}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def operations_with_ids(app: FastAPI) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    """(method, path, id parameters, operation) for every API operation on a resource."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        if not path.startswith("/api/v1/") or not names:
            continue
        for method, operation in operations.items():
            found.append((method.upper(), path, names, operation))
    return found


def example_body(app: FastAPI, operation: dict[str, Any]) -> dict[str, Any] | None:
    """The smallest valid body: the required fields, from their examples."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = content["schema"]
    if "$ref" in schema:
        schema = app.openapi()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    body = {}
    for name in schema.get("required", []):
        examples = schema["properties"][name].get("examples")
        assert examples, f"give the required field {name!r} an example so the matrix can send it"
        body[name] = examples[0]
    return body


async def tenant_rows(db: Database, tenant: TenantFixture) -> list[tuple[str, Any]]:
    rows = []
    async with db.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            if "tenant_id" in table.c:
                result = await session.execute(
                    select(table).where(table.c.tenant_id == tenant.tenant_id)
                )
                rows += [(table.name, tuple(row)) for row in result.all()]
    return sorted(rows, key=repr)


async def test_another_tenants_resource_answers_like_a_missing_one_on_every_route(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    operations = operations_with_ids(app)
    assert operations, "the generator found no route with a resource id"
    cases = 0
    for method, path, names, operation in operations:
        unknown = [name for name in names if name not in RESOURCES]
        assert not unknown, f"{method} {path}: teach RESOURCES how to make {unknown}"
        ids = {name: str(await RESOURCES[name](db, tenant_a)) for name in names}
        body = example_body(app, operation)
        before = await tenant_rows(db, tenant_a)

        theirs = await client.request(
            method, path.format(**ids), json=body, headers=tenant_b.headers
        )
        missing = await client.request(
            method,
            path.format(**dict.fromkeys(names, MISSING_ID)),
            json=body,
            headers=tenant_b.headers,
        )

        assert (theirs.status_code, theirs.content) == (missing.status_code, missing.content), (
            f"{method} {path}"
        )
        assert theirs.status_code == 404, f"{method} {path}"
        assert await tenant_rows(db, tenant_a) == before, f"{method} {path} changed A's data"
        cases += 1
    assert cases >= 4  # GET/PATCH/DELETE a dataset, DELETE a key, at the time of writing
