"""The organisation key policy: GET/PUT /api/v1/key-policy (a full-access key to set
it), a maximum lifetime every new key gets or stays within, full-access keys kept to
owners, and unused keys expired by the hourly sweep on every worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from relay.auth import scopes
from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from relay.key_policy.unused_keys import expire_unused_keys
from relay.schemas import iso_utc
from tests.auth.workers import first_refusal, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key, make_dataset

POLICY = "/api/v1/key-policy"
KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
AUDIT = "/api/v1/audit-events"
DEFAULT = {
    "max_lifetime_days": None,
    "expire_unused_after_days": None,
    "full_access_keys": "allowed",
}
EXPIRED = {"detail": "API key expired", "code": "api_key_expired"}


def policy(**fields: Any) -> dict[str, Any]:
    return DEFAULT | fields


async def put_policy(
    client: httpx.AsyncClient, tenant: TenantFixture, **fields: Any
) -> dict[str, Any]:
    answer = await client.put(POLICY, json=policy(**fields), headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def end_of_day_in(days: int) -> datetime:
    return datetime.combine((utcnow() + timedelta(days=days)).date(), time(23, 59, 59), UTC)


async def test_the_policy_is_read_and_replaced_whole_and_audited(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    assert (await client.get(POLICY, headers=tenant_a.headers)).json() == DEFAULT
    wanted = policy(max_lifetime_days=90, full_access_keys="owners_only")
    assert await put_policy(client, tenant_a, **wanted) == wanted
    assert (await client.get(POLICY, headers=tenant_a.headers)).json() == wanted
    # Another tenant's policy is its own.
    assert (await client.get(POLICY, headers=tenant_b.headers)).json() == DEFAULT

    events = await client.get(f"{AUDIT}?action=key_policy.updated", headers=tenant_a.headers)
    (event,) = events.json()["items"]
    assert event["details"] == {
        "max_lifetime_days": {"from": None, "to": 90},
        "full_access_keys": {"from": "allowed", "to": "owners_only"},
    }
    # PUT replaces the policy: every field is sent, and only known values.
    for body in (
        {"max_lifetime_days": 30},
        policy(max_lifetime_days=0),
        policy(full_access_keys="nobody"),
        policy(expire_unused_after_days=3651),
    ):
        refused = await client.put(POLICY, json=body, headers=tenant_a.headers)
        assert refused.status_code == 422, body
    assert (await client.get(POLICY, headers=tenant_a.headers)).json() == wanted


async def test_only_a_full_access_key_sets_the_policy(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, key_manager = await make_api_key(db, tenant_a, scopes=["api_keys:write"])
    headers = {"X-API-Key": key_manager}
    assert (await client.get(POLICY, headers=headers)).status_code == 200
    refused = await client.put(POLICY, json=policy(max_lifetime_days=1), headers=headers)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "Insufficient permissions: requires full access", "code": "insufficient_scope"},
    )
    # No scopes, but limited to a dataset: not full access either.
    dataset = await make_dataset(db, tenant_a)
    limited = await client.post(
        KEYS,
        json={"name": "One dataset", "dataset_ids": [str(dataset.id)]},
        headers=tenant_a.headers,
    )
    limited_headers = {"X-API-Key": limited.json()["key"]}
    refused = await client.put(POLICY, json=policy(max_lifetime_days=1), headers=limited_headers)
    assert refused.status_code == 403
    assert (await client.get(POLICY, headers=tenant_a.headers)).json() == DEFAULT


async def test_a_maximum_lifetime_bounds_new_keys_and_spares_existing_ones(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    before_id, _ = await make_api_key(db, tenant_a, name="Made before")
    await put_policy(client, tenant_a, max_lifetime_days=90)
    latest = end_of_day_in(90)

    unset = await client.post(KEYS, json={"name": "No expiry asked"}, headers=tenant_a.headers)
    assert unset.status_code == 201
    assert datetime.fromisoformat(unset.json()["expires_at"]) == latest
    sooner = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    within = await client.post(
        KEYS, json={"name": "Sooner", "expires_at": sooner.isoformat()}, headers=tenant_a.headers
    )
    assert datetime.fromisoformat(within.json()["expires_at"]) == sooner
    later = await client.post(
        KEYS,
        json={"name": "Later", "expires_at": (latest + timedelta(seconds=1)).isoformat()},
        headers=tenant_a.headers,
    )
    assert later.status_code == 422
    (error,) = later.json()["detail"]
    assert error["loc"] == ["body", "expires_at"]
    assert error["msg"] == (
        f"beyond the key policy's max_lifetime_days (90): at most {iso_utc(latest)}"
    )

    # Not shortened silently: the key made before keeps no expiry...
    kept = await client.get(f"{KEYS}/{before_id}", headers=tenant_a.headers)
    assert kept.json()["expires_at"] is None
    # ...but its successor is a new key, made under the policy.
    rotated = await client.post(f"{KEYS}/{before_id}/rotate", headers=tenant_a.headers)
    assert datetime.fromisoformat(rotated.json()["expires_at"]) == end_of_day_in(90)


async def test_owners_only_keeps_full_access_keys_from_keys(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    full_id, _ = await make_api_key(db, tenant_a, name="Full access, made before")
    await put_policy(client, tenant_a, full_access_keys="owners_only")
    refused = await client.post(KEYS, json={"name": "Everything"}, headers=tenant_a.headers)
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "detail": "Organisation key policy: only an owner may create a full-access key; "
            "give the key scopes",
            "code": "permission_denied",
        },
    )
    scoped = await client.post(
        KEYS, json={"name": "Reader", "scopes": ["datasets:read"]}, headers=tenant_a.headers
    )
    assert scoped.status_code == 201
    # Listing every scope is the same access as [], on every dataset.
    every_scope = sorted(scopes.effective([]))
    listed = await client.post(
        KEYS, json={"name": "All listed", "scopes": every_scope}, headers=tenant_a.headers
    )
    assert listed.status_code == 403
    # A successor is a new key with its predecessor's access.
    rotated = await client.post(f"{KEYS}/{full_id}/rotate", headers=tenant_a.headers)
    assert rotated.status_code == 403
    # Every scope on chosen datasets is not full access; lifting the limit would make it so.
    dataset = await make_dataset(db, tenant_a)
    limited = await client.post(
        KEYS,
        json={"name": "Limited", "scopes": every_scope, "dataset_ids": [str(dataset.id)]},
        headers=tenant_a.headers,
    )
    assert limited.status_code == 201
    lifted = await client.patch(
        f"{KEYS}/{limited.json()['id']}", json={"dataset_ids": None}, headers=tenant_a.headers
    )
    assert lifted.status_code == 403
    # What that key makes inherits its limit: not full access either.
    made = await client.post(
        KEYS,
        json={"name": "Made by the limited key", "scopes": every_scope},
        headers={"X-API-Key": limited.json()["key"]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["dataset_ids"] == [str(dataset.id)]
    async with db.sessionmaker() as session:
        kept = await session.get(ApiKey, uuid.UUID(limited.json()["id"]))
        successors = await session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.name == "Full access, made before")
        )
    assert kept is not None
    assert kept.dataset_ids is not None
    assert successors == 1


async def make_stale(
    db: Database, key_id: uuid.UUID, *, used_days_ago: int | None, made_days_ago: int
) -> None:
    now = utcnow()
    used = None if used_days_ago is None else now - timedelta(days=used_days_ago)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(last_used_at=used, created_at=now - timedelta(days=made_days_ago))
        )


async def test_keys_unused_past_the_policy_expire_once_and_are_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    await put_policy(client, tenant_a, expire_unused_after_days=30)
    idle_id, idle = await make_api_key(db, tenant_a, name="Used 40 days ago")
    never_id, never = await make_api_key(db, tenant_a, name="Never used, 40 days old")
    recent_id, recent = await make_api_key(db, tenant_a, name="Used yesterday")
    new_id, new = await make_api_key(db, tenant_a, name="Never used, made yesterday")
    other_id, other = await make_api_key(db, tenant_b, name="Another tenant's, idle")
    for key in (idle, never, other):  # cached, as a busy worker holds them
        await app.state.verifier.verify(key)
    await make_stale(db, idle_id, used_days_ago=40, made_days_ago=60)
    await make_stale(db, never_id, used_days_ago=None, made_days_ago=40)
    await make_stale(db, recent_id, used_days_ago=1, made_days_ago=60)
    await make_stale(db, new_id, used_days_ago=None, made_days_ago=1)
    await make_stale(db, other_id, used_days_ago=None, made_days_ago=400)  # no policy there

    swept_at = utcnow()
    assert await expire_unused_keys(db.sessionmaker, app.state.verifier.cache, now=swept_at) == 2
    for key in (idle, never):
        refused = await client.get(DATASETS, headers={"X-API-Key": key})
        assert (refused.status_code, refused.json()) == (401, EXPIRED)
    for key in (recent, new, other):
        assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 200

    # A second sweep (another server's, or the next hour's) finds nothing more, even
    # from a server whose clock is a few seconds behind.
    cache = app.state.verifier.cache
    behind = swept_at - timedelta(seconds=5)
    assert await expire_unused_keys(db.sessionmaker, cache, now=behind) == 0
    assert await expire_unused_keys(db.sessionmaker, cache) == 0
    events = await client.get(f"{AUDIT}?action=api_key.expired_unused", headers=tenant_a.headers)
    by_key = {event["target_id"]: event for event in events.json()["items"]}
    assert set(by_key) == {str(idle_id), str(never_id)}
    assert by_key[str(never_id)]["details"] == {
        "expire_unused_after_days": 30,
        "last_used_at": None,
    }
    assert by_key[str(idle_id)]["actor"] == "system"


async def test_an_expired_unused_key_is_refused_on_every_worker(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    await put_policy(client, tenant_a, expire_unused_after_days=30)
    key_id, key = await make_api_key(db, tenant_a)
    await second_worker.state.verifier.verify(key)  # cached by the other worker
    await make_stale(db, key_id, used_days_ago=31, made_days_ago=31)
    assert await expire_unused_keys(db.sessionmaker, app.state.verifier.cache) == 1
    async with asgi_client(second_worker) as other:
        refused = await first_refusal(other, key)
    assert (refused.status_code, refused.json()) == (401, EXPIRED)


async def test_a_starting_app_sweeps_unused_keys_at_once(
    client: httpx.AsyncClient, settings: Any, db: Database, tenant_a: TenantFixture
) -> None:
    """The app runs the unused-key sweep from its start (then hourly): a key gone
    unused past the policy while no server ran is expired by the next server to start,
    with nobody calling the sweep."""
    from relay.app import create_app

    await put_policy(client, tenant_a, expire_unused_after_days=30)
    key_id, key = await make_api_key(db, tenant_a)
    await make_stale(db, key_id, used_days_ago=31, made_days_ago=31)

    started = create_app(settings)
    async with started.router.lifespan_context(started), asgi_client(started) as http:
        refused = await first_refusal(http, key, seconds=10)
    assert (refused.status_code, refused.json()) == (401, EXPIRED)
    events = await client.get(f"{AUDIT}?action=api_key.expired_unused", headers=tenant_a.headers)
    assert [event["target_id"] for event in events.json()["items"]] == [str(key_id)]
