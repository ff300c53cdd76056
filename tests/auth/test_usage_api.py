"""GET /api/v1/auth/api-keys/{id}/usage: requests per key per UTC day and status
class, gathered in memory and written with the once-a-second flush."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from relay.db import Database, utcnow
from tests.factories import TenantFixture, key_headers, make_api_key
from tests.statements import count_statements

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
MISSING = "/api/v1/datasets/00000000-0000-4000-8000-000000000000"


async def test_usage_counts_each_days_requests_by_status_class(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a, scopes=["datasets:read"])
    for _ in range(3):
        assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200
    assert (await client.get(MISSING, headers=key_headers(key))).status_code == 404
    assert (await client.post(DATASETS, json={}, headers=key_headers(key))).status_code == 403
    with count_statements(db) as statements:
        await client.get(DATASETS, headers=key_headers(key))
    assert not [s for s in statements if "api_key_usage" in s]  # nothing written per request
    await app.state.activity.flush()

    response = await client.get(f"{KEYS}/{key_id}/usage", headers=tenant_a.headers)
    assert response.status_code == 200
    usage = response.json()
    assert usage["key_id"] == str(key_id)
    assert len(usage["days"]) == 30
    today = usage["days"][-1]
    assert today["date"] == utcnow().date().isoformat()
    assert today["by_status"] == {"2xx": 4, "3xx": 0, "4xx": 2, "5xx": 0}
    assert today["total"] == 6
    assert all(day["total"] == 0 for day in usage["days"][:-1])


async def test_usage_counts_add_up_across_flushes(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a)
    for _ in range(2):
        await client.get(DATASETS, headers=key_headers(key))
        await app.state.activity.flush()
    usage = (await client.get(f"{KEYS}/{key_id}/usage?days=1", headers=tenant_a.headers)).json()
    assert [day["by_status"]["2xx"] for day in usage["days"]] == [2]


async def test_usage_of_another_tenants_key_is_404_and_days_are_bounded(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await client.get(f"{KEYS}/{tenant_a.key_id}/usage", headers=tenant_b.headers)
    assert theirs.status_code == 404
    for days in (0, 91):
        response = await client.get(
            f"{KEYS}/{tenant_a.key_id}/usage?days={days}", headers=tenant_a.headers
        )
        assert response.status_code == 422
