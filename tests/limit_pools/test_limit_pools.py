"""Limit pools through the API: create, list, read, change and delete them, a key's
`pool_id`, who may manage and join them, and each tenant's pools its own (another's answers as
if missing)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from tests.factories import TenantFixture, make_api_key

POOLS = "/api/v1/limit-pools"
KEYS = "/api/v1/auth/api-keys"
AUDIT = "/api/v1/audit-events"
NOT_FOUND = {"detail": "Limit pool not found", "code": "not_found"}


async def make_pool(
    client: httpx.AsyncClient, tenant: TenantFixture, **fields: Any
) -> dict[str, Any]:
    created = await client.post(
        POOLS, json={"name": "Acme mobile app"} | fields, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def make_key(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    created = await client.post(KEYS, json={"name": "Pooled"} | fields, headers=headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_pool_is_created_read_listed_changed_and_audited(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    pool = await make_pool(
        client,
        tenant_a,
        rate_limit={"requests": 600, "per_seconds": 60},
        quota={"requests": 1000, "period": "month"},
    )
    assert pool["name"] == "Acme mobile app"
    assert pool["rate_limit"] == {"requests": 600, "per_seconds": 60}
    assert pool["quota"]["requests"] == 1000
    assert pool["quota"]["remaining"] == 1000
    assert pool["key_count"] == 0
    await make_key(client, tenant_a.headers, pool_id=pool["id"])

    read = (await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)).json()
    assert read["key_count"] == 1
    second = await make_pool(client, tenant_a, name="Partners")
    assert (second["rate_limit"], second["quota"]) == (None, None)
    listed = (await client.get(f"{POOLS}?page_size=1", headers=tenant_a.headers)).json()
    assert [item["name"] for item in listed["items"]] == ["Partners"]
    following = await client.get(
        f"{POOLS}?page_size=1&cursor={listed['next_cursor']}", headers=tenant_a.headers
    )
    assert [item["name"] for item in following.json()["items"]] == ["Acme mobile app"]
    assert following.json()["next_cursor"] is None

    changed = await client.patch(
        f"{POOLS}/{pool['id']}",
        json={"name": "Acme iOS", "quota": None},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["quota"]) == ("Acme iOS", None)
    assert changed.json()["rate_limit"] == {"requests": 600, "per_seconds": 60}  # not sent: kept
    events = await client.get(f"{AUDIT}?action=limit_pool.updated", headers=tenant_a.headers)
    (event,) = events.json()["items"]
    assert event["details"] == {"name": "Acme iOS", "quota": None}
    assert event["target_id"] == pool["id"]


async def test_bad_pool_bodies_are_refused_with_a_detail(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    pool = await make_pool(client, tenant_a)
    for method, path, body in (
        ("POST", POOLS, {"name": ""}),
        ("POST", POOLS, {"name": "x", "rate_limit": {"requests": 0, "per_seconds": 1}}),
        ("POST", POOLS, {"name": "x", "quota": {"requests": 5, "period": "week"}}),
        ("POST", POOLS, {"name": "x", "extra": 1}),
        ("PATCH", f"{POOLS}/{pool['id']}", {"name": None}),
    ):
        refused = await client.request(method, path, json=body, headers=tenant_a.headers)
        assert refused.status_code == 422, body
        assert refused.json()["detail"], body


async def test_a_pool_with_live_keys_cannot_be_deleted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    pool = await make_pool(client, tenant_a)
    key = await make_key(client, tenant_a.headers, pool_id=pool["id"])
    refused = await client.delete(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)
    assert (refused.status_code, refused.json()) == (
        409,
        {
            "detail": "Limit pool has 1 key: move them to another pool or revoke them first",
            "code": "conflict",
        },
    )
    moved = await client.patch(
        f"{KEYS}/{key['id']}", json={"pool_id": None}, headers=tenant_a.headers
    )
    assert "pool_id" not in moved.json()
    assert (
        await client.delete(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)
    ).status_code == 204
    gone = await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)
    assert (gone.status_code, gone.json()) == (404, NOT_FOUND)


async def test_another_tenants_pools_answer_as_missing_and_cannot_take_keys(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await make_pool(client, tenant_b, rate_limit={"requests": 1, "per_seconds": 60})
    missing = f"{POOLS}/{uuid.uuid4()}"
    for method, body in (("GET", None), ("PATCH", {"name": "Mine now"}), ("DELETE", None)):
        for path in (f"{POOLS}/{theirs['id']}", missing):
            answer = await client.request(method, path, json=body, headers=tenant_a.headers)
            assert (answer.status_code, answer.json()) == (404, NOT_FOUND), (method, path)
    assert (await client.get(POOLS, headers=tenant_a.headers)).json()["items"] == []
    # A key cannot join another tenant's pool (nor one that does not exist): 422.
    for pool_id in (theirs["id"], str(uuid.uuid4())):
        refused = await client.post(
            KEYS, json={"name": "Stowaway", "pool_id": pool_id}, headers=tenant_a.headers
        )
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "pool_id"]
        own = (await client.get(KEYS, headers=tenant_a.headers)).json()
        patched = await client.patch(
            f"{KEYS}/{own[0]['id']}", json={"pool_id": pool_id}, headers=tenant_a.headers
        )
        assert patched.status_code == 422
    read = (await client.get(f"{POOLS}/{theirs['id']}", headers=tenant_b.headers)).json()
    assert (read["name"], read["key_count"]) == ("Acme mobile app", 0)


async def test_a_pooled_key_keeps_what_it_makes_in_its_pool_and_cannot_manage_pools(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    pool = await make_pool(client, tenant_a, rate_limit={"requests": 100, "per_seconds": 60})
    other = await make_pool(client, tenant_a, name="Other")
    pooled = await make_key(client, tenant_a.headers, pool_id=pool["id"])
    headers = {"X-API-Key": pooled["key"]}

    made = await make_key(client, headers, name="Made by the pooled key")
    assert made["pool_id"] == pool["id"]  # inherited
    outside = (
        "Insufficient permissions: a key in a limit pool cannot make or manage a key outside it"
    )
    for body in ({"name": "Elsewhere", "pool_id": other["id"]},):
        refused = await client.post(KEYS, json=body, headers=headers)
        assert (refused.status_code, refused.json()["detail"]) == (403, outside)
    freed = await client.patch(f"{KEYS}/{made['id']}", json={"pool_id": None}, headers=headers)
    assert (freed.status_code, freed.json()["detail"]) == (403, outside)
    # Nor may it touch the keys outside its pool.
    outsider = await client.patch(f"{KEYS}/{tenant_a.key_id}", json={"name": "x"}, headers=headers)
    assert outsider.status_code == 403
    rotated = await client.post(f"{KEYS}/{made['id']}/rotate", headers=headers)
    assert rotated.json()["pool_id"] == pool["id"]

    limited = (
        "Insufficient permissions: a key with limits of its own (a rate limit, a quota or a "
        "pool) cannot manage limit pools"
    )
    for method, path, body in (
        ("POST", POOLS, {"name": "Bigger"}),
        ("PATCH", f"{POOLS}/{pool['id']}", {"rate_limit": None}),
        ("DELETE", f"{POOLS}/{other['id']}", None),
    ):
        answer = await client.request(method, path, json=body, headers=headers)
        assert (answer.status_code, answer.json()["detail"]) == (403, limited), method
    assert (await client.get(f"{POOLS}/{pool['id']}", headers=headers)).json()["rate_limit"] == {
        "requests": 100,
        "per_seconds": 60,
    }


async def test_pools_are_read_with_api_keys_read_and_managed_and_joined_with_full_access(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, reader = await make_api_key(db, tenant_a, scopes=["api_keys:read"])
    writer_id, writer = await make_api_key(db, tenant_a, scopes=["api_keys:write", "datasets:read"])
    assert (await client.get(POOLS, headers={"X-API-Key": reader})).status_code == 200
    pool = await make_pool(client, tenant_a, quota={"requests": 1000, "period": "day"})
    for key in (reader, writer):
        # A pool's limits are every key's in it, the broadest included.
        for method, path, body in (
            ("POST", POOLS, {"name": "x"}),
            ("PATCH", f"{POOLS}/{pool['id']}", {"quota": None}),
            ("DELETE", f"{POOLS}/{pool['id']}", None),
        ):
            answer = await client.request(method, path, json=body, headers={"X-API-Key": key})
            assert (answer.status_code, answer.json()["detail"]) == (
                403,
                "Insufficient permissions: requires full access",
            ), method
    # Nor may a narrower key put keys into a pool: they would spend the quota it shares.
    joining = "Insufficient permissions: only a full-access key puts a key into a limit pool "
    made = await client.post(
        KEYS,
        json={"name": "Drain", "scopes": ["datasets:read"], "pool_id": pool["id"]},
        headers={"X-API-Key": writer},
    )
    assert made.status_code == 403
    assert made.json()["detail"].startswith(joining)
    moved = await client.patch(
        f"{KEYS}/{writer_id}", json={"pool_id": pool["id"]}, headers={"X-API-Key": writer}
    )
    assert moved.status_code == 403
    assert moved.json()["detail"].startswith(joining)
    read = (await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)).json()
    assert (read["quota"]["requests"], read["key_count"]) == (1000, 0)
    # The full-access key does both.
    joined = await client.patch(
        f"{KEYS}/{writer_id}", json={"pool_id": pool["id"]}, headers=tenant_a.headers
    )
    assert joined.json()["pool_id"] == pool["id"]


async def test_a_pool_whose_keys_are_all_expired_or_revoked_is_deleted(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    pool = await make_pool(client, tenant_a)
    expired = await make_key(client, tenant_a.headers, pool_id=pool["id"])
    revoked = await make_key(client, tenant_a.headers, pool_id=pool["id"])
    await client.delete(f"{KEYS}/{revoked['id']}", headers=tenant_a.headers)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == uuid.UUID(expired["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    read = (await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)).json()
    assert read["key_count"] == 0
    deleted = await client.delete(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)
    assert deleted.status_code == 204
    async with db.sessionmaker() as session:
        left = await session.get(ApiKey, uuid.UUID(expired["id"]))
    assert left is not None
    assert left.pool_id is None
