"""Every /api/v1 route requires a valid, unexpired, unrevoked key of the right tenant."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from relay.auth import keys
from relay.db import Database, utcnow
from tests.auth.lookups import statements_sent
from tests.auth.workers import ready
from tests.factories import TenantFixture, make_dataset, set_key_expiry

INVALID = {"detail": "Invalid or missing API key", "code": "invalid_api_key"}
EXPIRED = {"detail": "API key expired", "code": "api_key_expired"}


def assert_invalid_key(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == INVALID
    assert "X-API-Key" in response.headers["WWW-Authenticate"]


async def test_valid_key_is_accepted(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.get("/api/v1/datasets", headers=tenant_a.headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "   "},
        {"X-API-Key": "not-a-key"},
        {"X-API-Key": "Bearer rl_live_abc"},
    ],
    ids=["missing", "empty", "whitespace", "malformed", "wrong-shape"],
)
async def test_missing_or_malformed_key_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert_invalid_key(await client.get("/api/v1/datasets", headers=headers))


async def test_key_with_bad_checksum_is_refused_without_touching_the_database(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    bad_checksum = tenant_a.key[:-1] + ("A" if tenant_a.key[-1] != "A" else "B")
    with statements_sent(db) as statements:
        response = await client.get("/api/v1/datasets", headers={"X-API-Key": bad_checksum})
    assert_invalid_key(response)
    assert statements == []


async def test_unknown_key_with_valid_checksum_is_refused(client: httpx.AsyncClient) -> None:
    assert_invalid_key(
        await client.get("/api/v1/datasets", headers={"X-API-Key": keys.generate_key()})
    )


async def test_two_api_key_headers_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    headers = [("X-API-Key", tenant_a.key), ("X-API-Key", tenant_a.key)]
    assert_invalid_key(await client.get("/api/v1/datasets", headers=headers))


async def test_revoked_key_is_rejected_on_next_request(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = await client.post(
        "/api/v1/auth/api-keys", json={"name": "Doomed"}, headers=tenant_a.headers
    )
    doomed = created.json()
    doomed_headers = {"X-API-Key": doomed["key"]}
    assert (await client.get("/api/v1/datasets", headers=doomed_headers)).status_code == 200

    revoked = await client.delete(f"/api/v1/auth/api-keys/{doomed['id']}", headers=tenant_a.headers)
    assert revoked.status_code == 204

    assert_invalid_key(await client.get("/api/v1/datasets", headers=doomed_headers))


async def test_expired_key_is_refused_with_its_own_message(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await set_key_expiry(db, tenant_a.key_id, utcnow() - timedelta(seconds=1))
    response = await client.get("/api/v1/datasets", headers=tenant_a.headers)
    assert response.status_code == 401
    assert response.json() == EXPIRED
    assert "X-API-Key" in response.headers["WWW-Authenticate"]


async def test_key_expiring_later_still_works(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await set_key_expiry(db, tenant_a.key_id, utcnow() + timedelta(minutes=1))
    assert (await client.get("/api/v1/datasets", headers=tenant_a.headers)).status_code == 200


async def test_another_tenants_dataset_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    dataset = await make_dataset(db, tenant_a)
    missing_id = "00000000-0000-4000-8000-000000000000"
    for method, body in [("GET", None), ("PATCH", {"name": "Stolen"}), ("DELETE", None)]:
        theirs = await client.request(
            method, f"/api/v1/datasets/{dataset.id}", json=body, headers=tenant_b.headers
        )
        missing = await client.request(
            method, f"/api/v1/datasets/{missing_id}", json=body, headers=tenant_b.headers
        )
        assert theirs.status_code == missing.status_code == 404
        assert (
            theirs.json() == missing.json() == {"detail": "Dataset not found", "code": "not_found"}
        )

    still_there = await client.get(f"/api/v1/datasets/{dataset.id}", headers=tenant_a.headers)
    assert still_there.json()["name"] == "Street scenes"


async def test_tenant_lists_only_its_own_datasets(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await make_dataset(db, tenant_a, name="A's data")
    listing = (await client.get("/api/v1/datasets", headers=tenant_b.headers)).json()
    assert listing["total"] == 0
    assert listing["items"] == []
