"""Reversible suspend: `PATCH {"disabled": true}` refuses a key from its next request,
on every worker, with 401 "API key disabled"; `{"disabled": false}` restores it. Both
are audited, and a key manages only keys no broader than itself here too."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from relay.db import Database
from tests.auth.workers import first_refusal, first_success, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"
DISABLED = {"detail": "API key disabled", "code": "api_key_disabled"}


async def suspend(
    client: httpx.AsyncClient, tenant: TenantFixture, key_id: object, disabled: bool = True
) -> httpx.Response:
    return await client.patch(
        f"{KEYS}/{key_id}", json={"disabled": disabled}, headers=tenant.headers
    )


async def test_a_suspended_key_is_refused_until_it_is_resumed(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    await ready(app)
    key_id, key = await make_api_key(db, tenant_a, name="Batch")
    assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 200  # cached

    suspended = await suspend(client, tenant_a, key_id)
    assert suspended.status_code == 200
    assert suspended.json()["disabled"] is True
    refused = await client.get(DATASETS, headers={"X-API-Key": key})
    assert (refused.status_code, refused.json()) == (401, DISABLED)
    assert refused.headers["WWW-Authenticate"].startswith("APIKey")
    listed = {k["id"]: k for k in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    assert listed[str(key_id)]["disabled"] is True

    resumed = await suspend(client, tenant_a, key_id, disabled=False)
    assert resumed.status_code == 200
    assert "disabled" not in resumed.json()  # a key in use has exactly the guide's shape
    assert (await client.get(DATASETS, headers={"X-API-Key": key})).status_code == 200

    events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()["items"]
    actions = [e["action"] for e in events if e["target_id"] == str(key_id)]
    assert actions[:2] == ["api_key.enabled", "api_key.disabled"]


async def test_suspending_twice_or_resuming_an_active_key_changes_nothing(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a)
    await suspend(client, tenant_a, key_id)
    await suspend(client, tenant_a, key_id)
    await suspend(client, tenant_a, key_id, disabled=False)
    await suspend(client, tenant_a, key_id, disabled=False)
    events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()["items"]
    actions = [e["action"] for e in events if e["target_id"] == str(key_id)]
    assert actions.count("api_key.disabled") == actions.count("api_key.enabled") == 1


async def test_disabled_is_never_null(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a)
    refused = await client.patch(
        f"{KEYS}/{key_id}", json={"disabled": None}, headers=tenant_a.headers
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"


async def test_a_key_suspends_only_keys_no_broader_than_itself(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, manager = await make_api_key(db, tenant_a, scopes=["api_keys:write"])
    broader_id, broader = await make_api_key(db, tenant_a)
    refused = await client.patch(
        f"{KEYS}/{broader_id}", json={"disabled": True}, headers={"X-API-Key": manager}
    )
    assert refused.status_code == 403
    assert (await client.get(DATASETS, headers={"X-API-Key": broader})).status_code == 200
    narrower_id, _ = await make_api_key(db, tenant_a, scopes=["api_keys:read"])
    allowed = await client.patch(
        f"{KEYS}/{narrower_id}", json={"disabled": True}, headers={"X-API-Key": manager}
    )
    assert allowed.status_code == 200


async def test_another_tenants_key_cannot_be_suspended(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    answer = await suspend(client, tenant_b, tenant_a.key_id)
    assert answer.status_code == 404
    assert (await client.get(DATASETS, headers=tenant_a.headers)).status_code == 200


async def test_every_worker_refuses_a_key_suspended_elsewhere_and_takes_it_back(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    key_id, key = await make_api_key(db, tenant_a)
    async with asgi_client(second_worker) as other:
        assert (await other.get(DATASETS, headers={"X-API-Key": key})).status_code == 200
        await suspend(client, tenant_a, key_id)
        refused = await first_refusal(other, key)
        assert (refused.status_code, refused.json()) == (401, DISABLED)
        await suspend(client, tenant_a, key_id, disabled=False)
        # The resume is announced as a revocation is: the other worker hears of it.
        assert (await first_success(other, key)).status_code == 200
