"""GET /metrics: Prometheus counters behind a bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from relay.app import create_app
from relay.config import Settings
from relay.db import Database, utcnow
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key, make_tenant, set_key_expiry

TOKEN = "metrics-token-for-tests"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def metered(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}))
    async with app.router.lifespan_context(app):
        yield app


async def test_metrics_are_off_without_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404


async def test_metrics_need_the_token(metered: FastAPI) -> None:
    async with asgi_client(metered) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert "relay_http_requests_total" in ok.text


async def test_requests_are_counted_by_route_and_status(metered: FastAPI) -> None:
    db: Database = metered.state.db
    tenant = await make_tenant(db)
    labels = {"method": "GET", "route": "/api/v1/datasets", "status": "200"}
    before = sample("relay_http_requests_total", **labels)
    async with asgi_client(metered) as client:
        for _ in range(3):
            await client.get("/api/v1/datasets", headers=tenant.headers)
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    assert sample("relay_http_requests_total", **labels) == before + 3
    assert (
        'relay_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/api/v1/datasets"}'
        in text
    )


async def test_auth_failures_are_counted_by_reason(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    before = {
        reason: sample("relay_auth_failures_total", reason=reason)
        for reason in ("missing", "invalid", "revoked", "expired")
    }
    revoked_id, revoked_key = await make_api_key(db, tenant_a, name="revoked")
    await client.delete(f"/api/v1/auth/api-keys/{revoked_id}", headers=tenant_a.headers)
    expired_id, expired_key = await make_api_key(db, tenant_a, name="expired")
    await set_key_expiry(db, expired_id, utcnow() - timedelta(seconds=1))

    await client.get("/api/v1/datasets")
    await client.get("/api/v1/datasets", headers={"X-API-Key": "rl_live_" + "0" * 38})
    await client.get("/api/v1/datasets", headers={"X-API-Key": revoked_key})
    await client.get("/api/v1/datasets", headers={"X-API-Key": expired_key})

    for reason in ("missing", "invalid", "revoked", "expired"):
        assert sample("relay_auth_failures_total", reason=reason) == before[reason] + 1, reason


async def test_rate_limited_authentications_are_counted(app: FastAPI) -> None:
    before = sample("relay_auth_failures_total", reason="rate_limited")
    async with asgi_client(app, "203.0.113.50") as client:
        for _ in range(31):
            await client.get("/api/v1/datasets", headers={"X-API-Key": "bad"})
    assert sample("relay_auth_failures_total", reason="rate_limited") == before + 1


async def test_key_cache_hits_and_misses_are_counted(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    listener = app.state.revocation_listener
    if listener is not None:  # on PostgreSQL the cache is used once the channel listens
        await listener.connected.wait()
    hits, misses = (
        sample("relay_key_cache_total", result="hit"),
        sample("relay_key_cache_total", result="miss"),
    )
    for _ in range(3):
        await client.get("/api/v1/datasets", headers=tenant_a.headers)
    assert sample("relay_key_cache_total", result="miss") == misses + 1
    assert sample("relay_key_cache_total", result="hit") == hits + 2
