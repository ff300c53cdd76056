"""The tenant isolation matrix, generated from the app's own route table.

For every /api/v1 operation whose path names a resource id, tenant B's key against
tenant A's resource must answer exactly as a resource that does not exist (status
and body), and leave all of A's rows as they were. A new route is covered without
editing this file; a route whose id this file cannot make a resource for fails
until RESOURCES learns it.

Every /api/v1 list (a GET without an id) read by tenant B holds nothing of A's, and
in the dashboard a user of B opening or acting on A's key or limit pool gets what one
that does not exist gets, and changes nothing.
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
from relay.limit_pools.models import LimitPool
from relay.tenants import roles
from relay.tenants import service as tenants_service
from relay.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from relay.webhooks.outbox import new_event_id
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, sign_in
from tests.factories import TenantFixture, make_api_key, make_dataset


async def _dataset(db: Database, tenant: TenantFixture) -> uuid.UUID:
    return (await make_dataset(db, tenant)).id


async def _api_key(db: Database, tenant: TenantFixture) -> uuid.UUID:
    return (await make_api_key(db, tenant))[0]


# Path parameter name -> how to make one such resource for a tenant.
async def _limit_pool(db: Database, tenant: TenantFixture) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        pool = LimitPool(tenant_id=tenant.tenant_id, name="A pool")
        session.add(pool)
        await session.flush()
        return pool.id


async def _webhook_endpoint(
    db: Database, tenant: TenantFixture, url: str = "http://127.0.0.1:9/hooks"
) -> uuid.UUID:
    # Loopback, and no server key to sign with: nothing could ever be sent from here.
    async with db.sessionmaker.begin() as session:
        endpoint = WebhookEndpoint(
            tenant_id=tenant.tenant_id, url=url, events=["*"], sealed_secret="v1:none"
        )
        session.add(endpoint)
        await session.flush()
        return endpoint.id


async def _webhook_delivery(db: Database, tenant: TenantFixture) -> uuid.UUID:
    endpoint_id = await _webhook_endpoint(db, tenant)
    async with db.sessionmaker.begin() as session:
        event = WebhookEvent(
            id=new_event_id(), tenant_id=tenant.tenant_id, type="dataset.created", data={}
        )
        delivery = WebhookDelivery(
            tenant_id=tenant.tenant_id, endpoint_id=endpoint_id, event=event, status="failed"
        )
        session.add(delivery)
        await session.flush()
        return delivery.id


RESOURCES: dict[str, Callable[[Database, TenantFixture], Awaitable[uuid.UUID]]] = {
    "dataset_id": _dataset,
    "key_id": _api_key,
    "pool_id": _limit_pool,
    "endpoint_id": _webhook_endpoint,
    "delivery_id": _webhook_delivery,
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


def list_routes(app: FastAPI) -> list[str]:
    """Every API path that lists: a GET whose path names no resource id (and that is not
    the tenant's one object, such as its key policy, whose operation id ends in _get)."""
    paths = app.openapi()["paths"].items()
    return [
        path
        for path, operations in paths
        if path.startswith("/api/v1/")
        and "{" not in path
        and "get" in operations
        and not operations["get"]["operationId"].endswith("_get")
    ]


async def test_no_list_route_shows_tenant_b_anything_of_tenant_a(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    # A's data through the API, so that its audit log has events with its key as actor.
    dataset = await client.post(
        "/api/v1/datasets", json={"name": "A's secret plan"}, headers=tenant_a.headers
    )
    key = await client.post(
        "/api/v1/auth/api-keys", json={"name": "A's deploy key"}, headers=tenant_a.headers
    )
    await client.post("/api/v1/datasets", json={"name": "B's own"}, headers=tenant_b.headers)
    await client.post("/api/v1/limit-pools", json={"name": "A's pool"}, headers=tenant_a.headers)
    await client.post("/api/v1/limit-pools", json={"name": "B's own"}, headers=tenant_b.headers)
    await _webhook_endpoint(db, tenant_a, "http://127.0.0.1:9/A's hooks")
    await _webhook_endpoint(db, tenant_b, "http://127.0.0.1:9/B's own")
    a_events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()
    a_ids = {
        str(tenant_a.tenant_id),
        str(tenant_a.key_id),
        dataset.json()["id"],
        key.json()["id"],
        *(event["id"] for event in a_events["items"]),
    }
    assert len(a_ids) > 4, "A has no audit events to look for"
    a_words = {
        "A's secret plan", "A's deploy key", "A's pool", "A's hooks", tenant_a.key[:12],
        key.json()["key"][:12],
    }  # fmt: skip

    routes = list_routes(app)
    assert {"/api/v1/datasets", "/api/v1/auth/api-keys", "/api/v1/audit-events"} <= set(routes)
    for path in routes:
        listed = await client.get(path, headers=tenant_b.headers)
        assert listed.status_code == 200, path
        # B's own rows are there: the list is not merely empty.
        assert "B's own" in listed.text or str(tenant_b.key_id) in listed.text, path
        leaked = [found for found in a_ids | a_words if found in listed.text]
        assert leaked == [], f"GET {path} shows B these of A's: {leaked}"


async def sign_in_as_owner_of(
    client: httpx.AsyncClient, db: Database, tenant: TenantFixture
) -> None:
    """A dashboard session of a new owner user of `tenant`."""
    email = new_email()
    password_hash = await tenants_service.prepare_password(PASSWORD)
    async with db.sessionmaker.begin() as session:
        await tenants_service.create_user(
            session,
            tenant_id=tenant.tenant_id,
            email=email,
            password_hash=password_hash,
            role=roles.OWNER,
        )
    assert (await sign_in(client, email)).status_code == 303


async def test_tenant_b_in_the_dashboard_finds_and_changes_none_of_tenant_as_keys(
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    await sign_in_as_owner_of(client, db, tenant_b)
    keys_page = "/settings/api-keys"
    token = csrf_of((await client.get(keys_page)).text)
    for method, action, form in (
        ("GET", "", None),
        ("POST", "/roll", {"csrf_token": token, "grace_period_seconds": "0"}),
        ("POST", "/revoke", {"csrf_token": token}),
        ("POST", "/restrictions", {"csrf_token": token, "allowed_ips": "203.0.113.0/24"}),
        ("POST", "/limits", {"csrf_token": token, "quota_requests": "1", "quota_period": "day"}),
    ):
        case = f"{method} {action or 'page'}"
        before = await tenant_rows(db, tenant_a)
        theirs = await client.request(method, f"{keys_page}/{tenant_a.key_id}{action}", data=form)
        assert "API key not found" in (await client.get(keys_page)).text, case
        missing = await client.request(method, f"{keys_page}/{MISSING_ID}{action}", data=form)
        # The dashboard answers a key it cannot find by going back to the list with a
        # notice, not with a 404: A's key must get exactly that answer.
        assert (theirs.status_code, theirs.headers.get("location")) == (
            missing.status_code, missing.headers.get("location")
        ), case  # fmt: skip
        assert theirs.status_code == 303, case
        assert "rl_live_" not in theirs.text, case
        assert await tenant_rows(db, tenant_a) == before, case
    assert (await client.get("/api/v1/datasets", headers=tenant_a.headers)).status_code == 200


async def test_tenant_b_in_the_dashboard_finds_and_changes_none_of_tenant_as_pools(
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    pool_id = await _limit_pool(db, tenant_a)
    await sign_in_as_owner_of(client, db, tenant_b)
    pools_page = "/settings/limit-pools"
    token = csrf_of((await client.get(pools_page)).text)
    limits = {"rate_limit_requests": "", "rate_limit_seconds": "", "quota_requests": ""}
    for method, action, form in (
        ("GET", "", None),
        ("POST", "", {"csrf_token": token, "name": "Taken over", **limits, "quota_period": "day"}),
        ("POST", "/delete", {"csrf_token": token}),
    ):
        case = f"{method} {action or 'page'}"
        before = await tenant_rows(db, tenant_a)
        theirs = await client.request(method, f"{pools_page}/{pool_id}{action}", data=form)
        missing = await client.request(method, f"{pools_page}/{MISSING_ID}{action}", data=form)
        # The dashboard answers a pool it cannot find with a page that says so (404),
        # the same for A's pool as for none.
        assert (theirs.status_code, theirs.text) == (missing.status_code, missing.text), case
        assert theirs.status_code == 404, case
        assert "A pool" not in theirs.text, case
        assert await tenant_rows(db, tenant_a) == before, case
