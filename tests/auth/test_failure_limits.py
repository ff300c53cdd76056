"""Failed authentications are limited per client address; X-Forwarded-For only counts
from a trusted proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key

DATASETS = "/api/v1/datasets"
BAD_KEY = {"X-API-Key": "rl_live_" + "0" * 38}


async def fail(
    client: httpx.AsyncClient, times: int, headers: dict[str, str] | None = None
) -> None:
    for _ in range(times):
        response = await client.get(DATASETS, headers=BAD_KEY | (headers or {}))
        assert response.status_code == 401


async def test_thirty_failures_from_an_address_get_429_with_retry_after(
    app: FastAPI, tenant_a: TenantFixture
) -> None:
    async with (
        asgi_client(app, "203.0.113.7") as attacker,
        asgi_client(app, "198.51.100.2") as user,
    ):
        await fail(attacker, 30)
        limited = await attacker.get(DATASETS, headers=BAD_KEY)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "Too many failed authentication attempts" in limited.json()["detail"]
        # Other addresses are not affected.
        assert (await user.get(DATASETS, headers=BAD_KEY)).status_code == 401


async def test_a_flood_of_bad_keys_never_locks_out_a_valid_key(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    # The reproduction of the lock-out: 40 made-up keys from one address, then the
    # tenant's valid keys from the same address (a NAT shared with a stale script).
    async with asgi_client(app, "203.0.113.70") as shared_address:
        await fail(shared_address, 30)
        for _ in range(10):
            assert (await shared_address.get(DATASETS, headers=BAD_KEY)).status_code == 429
        assert (await shared_address.get(DATASETS, headers=tenant_a.headers)).status_code == 200
        # A key this worker has never seen (not cached) is looked up and let in too.
        _, fresh_key = await make_api_key(db, tenant_a, name="Fresh")
        fresh = await shared_address.get(DATASETS, headers={"X-API-Key": fresh_key})
        assert fresh.status_code == 200


async def test_a_revoked_key_from_a_limited_address_gets_429(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a, name="Stale script")
    async with asgi_client(app, "203.0.113.71") as client:
        await client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=tenant_a.headers)
        await fail(client, 30)
        assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 429


async def test_successes_do_not_count(app: FastAPI, tenant_a: TenantFixture) -> None:
    async with asgi_client(app, "203.0.113.8") as client:
        for _ in range(40):
            assert (await client.get(DATASETS, headers=tenant_a.headers)).status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(app: FastAPI) -> None:
    async with asgi_client(app, "203.0.113.9") as attacker:
        # Rotating the header does not give the attacker fresh addresses.
        for number in range(30):
            response = await attacker.get(
                DATASETS, headers=BAD_KEY | {"X-Forwarded-For": f"10.0.0.{number}"}
            )
            assert response.status_code == 401
        assert (await attacker.get(DATASETS, headers=BAD_KEY)).status_code == 429


@pytest.fixture
async def behind_proxy(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.0/8"}))
    async with app.router.lifespan_context(app):
        yield app


async def test_trusted_proxy_forwards_the_real_client_address(
    behind_proxy: FastAPI, tenant_a: TenantFixture
) -> None:
    async with asgi_client(behind_proxy, "127.0.0.1") as proxy:
        await fail(proxy, 30, {"X-Forwarded-For": "192.0.2.1"})
        attacker = await proxy.get(DATASETS, headers=BAD_KEY | {"X-Forwarded-For": "192.0.2.1"})
        assert attacker.status_code == 429
        # A spoofed entry before the real client does not help either.
        spoofed = await proxy.get(
            DATASETS, headers=BAD_KEY | {"X-Forwarded-For": "10.9.9.9, 192.0.2.1"}
        )
        assert spoofed.status_code == 429
        other = await proxy.get(
            DATASETS, headers=tenant_a.headers | {"X-Forwarded-For": "192.0.2.2"}
        )
        assert other.status_code == 200


def test_invalid_trusted_proxies_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        Settings(trusted_proxies="not-an-address")
