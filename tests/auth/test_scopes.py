"""Scopes: every API route declares the one it needs; a key without it gets 403; a key
never makes, rotates, changes or revokes a key broader or longer-lived than itself."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from relay.auth.scopes import ALL_SCOPES, effective, scope_table
from relay.db import Database, utcnow
from tests.auth.lookups import statements_sent
from tests.auth.workers import ready
from tests.factories import TenantFixture, key_headers, make_api_key, make_dataset

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def test_every_api_route_declares_the_scope_it_needs(app: FastAPI) -> None:
    table = scope_table(app)
    assert len(table) >= 13
    undeclared = [f"{method} {path}" for method, path, scope in table if scope is None]
    assert undeclared == [], "declare dependencies=[requires(...)] on these routes"


async def test_every_route_refuses_a_key_without_its_scope(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    # Generated from the route table: a new route is covered without editing this file.
    for method, path, needed in scope_table(app):
        assert needed is not None
        if needed.startswith("public"):
            continue
        others = [scope for scope in ALL_SCOPES if needed not in effective([scope])]
        _, key = await make_api_key(db, tenant_a, name=f"all but {needed}", scopes=others)
        url = re.sub(r"{\w+}", MISSING_ID, path)
        response = await client.request(method, url, headers=key_headers(key), json={})
        assert response.status_code == 403, f"{method} {path}"
        assert response.json() == {
            "detail": f"Insufficient permissions: requires {needed}",
            "code": "insufficient_scope",
        }


async def test_read_only_key_reads_datasets_but_cannot_write_them(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await make_dataset(db, tenant_a)
    _, key = await make_api_key(db, tenant_a, scopes=["datasets:read"])
    assert (await client.get(DATASETS, headers=key_headers(key))).json()["total"] == 1
    refused = await client.post(DATASETS, json={"name": "x"}, headers=key_headers(key))
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Insufficient permissions: requires datasets:write",
        "code": "insufficient_scope",
    }
    assert (await client.get(DATASETS, headers=tenant_a.headers)).json()["total"] == 1
    # 401 stays "who are you": a wrong key is not a 403.
    wrong = key[:-1] + ("x" if key[-1] != "x" else "y")  # a key ending in x: 1 in 62
    assert (await client.get(DATASETS, headers=key_headers(wrong))).status_code == 401


async def test_write_scope_includes_read_and_empty_scopes_are_full_access(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, writer = await make_api_key(db, tenant_a, scopes=["datasets:write"])
    assert (await client.get(DATASETS, headers=key_headers(writer))).status_code == 200
    assert (await client.post(DATASETS, json={"name": "x"}, headers=key_headers(writer))).is_success
    assert (await client.get(KEYS, headers=key_headers(writer))).status_code == 403
    # tenant_a's own key was made with scopes [] (the guide's default): everything.
    for path in (DATASETS, KEYS, "/api/v1/audit-events"):
        assert (await client.get(path, headers=tenant_a.headers)).status_code == 200, path


async def test_unknown_scope_is_422_naming_the_valid_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.post(
        KEYS, json={"name": "x", "scopes": ["datasets:delete"]}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    for scope in ALL_SCOPES:
        assert scope in message


async def test_a_key_cannot_make_a_key_broader_than_itself(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, manager = await make_api_key(
        db, tenant_a, scopes=["api_keys:write", "datasets:read"], name="Manager"
    )
    headers = key_headers(manager)
    for scopes, missing in (
        ([], "audit:read, datasets:write, webhooks:read, webhooks:write"),
        (["datasets:write"], "datasets:write"),
    ):
        response = await client.post(KEYS, json={"name": "x", "scopes": scopes}, headers=headers)
        assert response.status_code == 403, scopes
        assert response.json() == {
            "detail": f"Insufficient permissions: requires {missing}",
            "code": "insufficient_scope",
        }
    narrower = await client.post(
        KEYS, json={"name": "Reader", "scopes": ["datasets:read"]}, headers=headers
    )
    assert narrower.status_code == 201
    assert narrower.json()["scopes"] == ["datasets:read"]
    names = [key["name"] for key in (await client.get(KEYS, headers=tenant_a.headers)).json()]
    assert names == ["Reader", "Manager", "Initial key"]


async def test_a_key_cannot_revoke_rotate_or_change_a_broader_key(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, manager = await make_api_key(db, tenant_a, scopes=["api_keys:write"])
    target = f"{KEYS}/{tenant_a.key_id}"  # the tenant's full-access key
    headers = key_headers(manager)
    attempts = [
        await client.delete(target, headers=headers),
        await client.post(f"{target}/rotate", json={}, headers=headers),
        await client.patch(target, json={"name": "hijacked"}, headers=headers),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert response.json()["detail"].startswith("Insufficient permissions: requires ")
    assert (await client.get(DATASETS, headers=tenant_a.headers)).status_code == 200
    listed = {key["id"]: key for key in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    assert listed[str(tenant_a.key_id)]["name"] == "Initial key"
    assert listed[str(tenant_a.key_id)]["expires_at"] is None
    # A key of the same or narrower scopes it may manage.
    peer_id, _ = await make_api_key(db, tenant_a, scopes=["api_keys:read"])
    assert (await client.delete(f"{KEYS}/{peer_id}", headers=headers)).status_code == 204


async def test_a_key_never_makes_a_key_that_outlives_it(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    # The review's finding: a key expiring in 8 s made a key with no expiry.
    expires = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    _, short_lived = await make_api_key(db, tenant_a, expires_at=expires)
    headers = key_headers(short_lived)
    made = await client.post(KEYS, json={"name": "no expiry asked"}, headers=headers)
    assert made.status_code == 201
    assert made.json()["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    later = (expires + timedelta(days=1)).isoformat()
    refused = await client.post(KEYS, json={"name": "later", "expires_at": later}, headers=headers)
    assert refused.status_code == 403
    assert "cannot expire after the key that makes it" in refused.json()["detail"]
    sooner = (expires - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    kept = await client.post(KEYS, json={"name": "sooner", "expires_at": sooner}, headers=headers)
    assert kept.json()["expires_at"] == sooner
    # Rotating a key with no expiry through the short-lived key cuts it to the maker's.
    long_id, _ = await make_api_key(db, tenant_a, name="Long-lived")
    rotated = await client.post(f"{KEYS}/{long_id}/rotate", json={}, headers=headers)
    assert rotated.status_code == 201
    assert rotated.json()["expires_at"] == expires.isoformat().replace("+00:00", "Z")


async def test_scope_checks_cost_no_database_work(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    _, key = await make_api_key(db, tenant_a, scopes=["audit:read"])
    assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 403  # cached now
    with statements_sent(db) as statements:
        for _ in range(5):
            assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 403
    assert statements == []


@pytest.mark.parametrize(
    "scopes", [["datasets:read", "datasets:read"], ["audit:read"] * (len(ALL_SCOPES) + 1)]
)
async def test_repeated_scopes_are_kept_once_or_refused_past_the_maximum(
    client: httpx.AsyncClient, tenant_a: TenantFixture, scopes: list[str]
) -> None:
    response = await client.post(
        KEYS, json={"name": "x", "scopes": scopes}, headers=tenant_a.headers
    )
    if len(scopes) > len(ALL_SCOPES):
        assert response.status_code == 422
    else:
        assert response.json()["scopes"] == ["datasets:read"]
