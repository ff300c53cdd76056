"""Rotation: a new key shown once, the old one working through a grace period (never
past its own expiry), then "API key expired" everywhere; both change or neither."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from tests.auth.workers import first_refusal, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, key_headers, make_api_key

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
EXPIRED = {"detail": "API key expired", "code": "api_key_expired"}


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def test_rotate_returns_a_twin_key_once_and_the_old_one_works_through_the_grace(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    expires = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    old_id, old_key = await make_api_key(
        db, tenant_a, name="CI", scopes=["datasets:read"], rate_limit=(100, 60), expires_at=expires
    )
    before = utcnow()
    response = await client.post(
        f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": 600}, headers=tenant_a.headers
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    new = response.json()
    assert new["id"] != str(old_id)
    assert new["key"].startswith("rl_live_")
    assert (new["name"], new["scopes"], new["rate_limit"]) == (
        "CI", ["datasets:read"], {"requests": 100, "per_seconds": 60}
    )  # fmt: skip
    assert parse(new["expires_at"]) == expires
    # Both keys work; the old one now expires at the end of the grace period.
    assert (await client.get(DATASETS, headers=key_headers(new["key"]))).status_code == 200
    assert (await client.get(DATASETS, headers=key_headers(old_key))).status_code == 200
    listed = {key["id"]: key for key in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    grace_end = parse(listed[str(old_id)]["expires_at"])
    assert before + timedelta(seconds=600) <= grace_end <= utcnow() + timedelta(seconds=600)
    assert "key" not in listed[new["id"]]


async def test_zero_grace_ends_the_old_key_at_once_as_expired(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    old_id, old_key = await make_api_key(db, tenant_a)
    assert (await client.get(DATASETS, headers=key_headers(old_key))).status_code == 200  # cached
    response = await client.post(
        f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": 0}, headers=tenant_a.headers
    )
    assert response.status_code == 201
    refused = await client.get(DATASETS, headers=key_headers(old_key))
    assert (refused.status_code, refused.json()) == (401, EXPIRED)


async def test_the_old_key_works_until_a_short_grace_runs_out_then_is_expired(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    old_id, old_key = await make_api_key(db, tenant_a)
    assert (await client.get(DATASETS, headers=key_headers(old_key))).status_code == 200  # cached
    rotated_at = utcnow()
    response = await client.post(
        f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": 1}, headers=tenant_a.headers
    )
    assert response.status_code == 201
    assert (await client.get(DATASETS, headers=key_headers(old_key))).status_code == 200
    answer = await first_refusal(client, old_key, seconds=10)
    refused_at = utcnow()
    assert (answer.status_code, answer.json()) == (401, EXPIRED)
    assert refused_at >= rotated_at + timedelta(seconds=1)
    assert (
        await client.get(DATASETS, headers=key_headers(response.json()["key"]))
    ).status_code == 200


async def test_the_grace_never_extends_past_the_old_keys_own_expiry(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    expires = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
    old_id, _ = await make_api_key(db, tenant_a, expires_at=expires)
    response = await client.post(
        f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": 3600}, headers=tenant_a.headers
    )
    assert parse(response.json()["expires_at"]) == expires
    listed = {key["id"]: key for key in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    assert parse(listed[str(old_id)]["expires_at"]) == expires


async def test_rotate_without_a_body_uses_an_hour_of_grace(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    old_id, _ = await make_api_key(db, tenant_a)
    assert (
        await client.post(f"{KEYS}/{old_id}/rotate", headers=tenant_a.headers)
    ).status_code == 201
    listed = {key["id"]: key for key in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    remaining = parse(listed[str(old_id)]["expires_at"]) - utcnow()
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)


async def test_revoked_expired_or_already_rotated_keys_are_a_409(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    revoked_id, _ = await make_api_key(db, tenant_a)
    await client.delete(f"{KEYS}/{revoked_id}", headers=tenant_a.headers)
    rotated_id, _ = await make_api_key(db, tenant_a)
    await client.post(f"{KEYS}/{rotated_id}/rotate", headers=tenant_a.headers)
    expired_id, _ = await make_api_key(db, tenant_a, expires_at=utcnow() + timedelta(hours=1))
    async with db.sessionmaker.begin() as session:
        expired = await session.get(ApiKey, expired_id)
        assert expired is not None
        expired.expires_at = utcnow() - timedelta(seconds=1)
    for key_id, words in (
        (revoked_id, "revoked"),
        (rotated_id, "already being rotated"),
        (expired_id, "expired"),
    ):
        response = await client.post(f"{KEYS}/{key_id}/rotate", headers=tenant_a.headers)
        assert response.status_code == 409, words
        assert words in response.json()["detail"]


@pytest.mark.parametrize("grace", [-1, 604801, "soon", None])
async def test_grace_out_of_range_is_422(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, grace: object
) -> None:
    old_id, old_key = await make_api_key(db, tenant_a)
    response = await client.post(
        f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": grace}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert (await client.get(DATASETS, headers=key_headers(old_key))).status_code == 200


async def test_both_keys_change_in_one_transaction_or_neither(
    db: Database, tenant_a: TenantFixture
) -> None:
    old_id, _ = await make_api_key(db, tenant_a)
    async with db.sessionmaker() as session:
        _, new, _ = await auth_service.rotate_api_key(
            session,
            tenant_id=tenant_a.tenant_id,
            key_id=old_id,
            grace_period_seconds=0,
            actor=SYSTEM,
            created_by=None,
        )
        await session.rollback()  # what a failure anywhere before the commit does
    async with db.sessionmaker() as session:
        old = await session.get(ApiKey, old_id)
        assert old is not None
        assert (old.expires_at, old.rotated_at, old.replaced_by_id) == (None, None, None)
        assert await session.scalar(select(ApiKey).where(ApiKey.id == new.id)) is None


async def test_another_worker_refuses_the_old_key_once_the_grace_ends(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    old_id, old_key = await make_api_key(db, tenant_a)
    async with asgi_client(second_worker) as other:
        # Cached there with no expiry; the rotation's notice must replace it.
        assert (await other.get(DATASETS, headers=key_headers(old_key))).status_code == 200
        response = await client.post(
            f"{KEYS}/{old_id}/rotate", json={"grace_period_seconds": 0}, headers=tenant_a.headers
        )
        assert response.status_code == 201
        answer = await first_refusal(other, old_key)
        assert (answer.status_code, answer.json()) == (401, EXPIRED)


async def test_the_rotation_event_writes_times_as_every_answer_does(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    old_id, _ = await make_api_key(db, tenant_a)
    await client.post(f"{KEYS}/{old_id}/rotate", headers=tenant_a.headers)
    events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()["items"]
    rotated = next(event for event in events if event["action"] == "api_key.rotated")
    assert rotated["details"]["old_key_expires_at"].endswith("Z")
