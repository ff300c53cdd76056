"""Webhook endpoints through the API: registered with a secret shown once and kept
sealed, listed by the list contract, changed, deleted; unknown events refused with a
422 that names the known ones; another tenant's endpoints are 404."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from relay.webhooks.models import WebhookEndpoint
from relay.webhooks.outbox import EVENT_TYPES
from tests.conftest import asgi_client
from tests.factories import TenantFixture
from tests.webhooks.conftest import ENDPOINTS, register
from tests.webhooks.receiver import Receiver

MISSING_ID = "00000000-0000-4000-8000-000000000000"


async def test_an_endpoint_is_registered_with_a_secret_shown_once_and_kept_sealed(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    created = await register(
        client, tenant_a.headers, receiver.url(), ["api_key.revoked", "api_key.leaked"]
    )
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["api_key.revoked", "api_key.leaked"]
    assert created["enabled"] is True
    read = (await client.get(f"{ENDPOINTS}/{created['id']}", headers=tenant_a.headers)).json()
    assert "secret" not in read
    assert read == {key: value for key, value in created.items() if key != "secret"}
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(WebhookEndpoint))
    assert stored is not None
    assert created["secret"] not in stored.sealed_secret
    assert created["secret"].removeprefix("whsec_") not in stored.sealed_secret


async def test_endpoints_are_listed_newest_first_a_page_at_a_time(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    ids = [(await register(client, tenant_a.headers, receiver.url()))["id"] for _ in range(3)]
    first = (await client.get(ENDPOINTS, params={"page_size": 2}, headers=tenant_a.headers)).json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    assert all("secret" not in item for item in first["items"])
    second = await client.get(
        ENDPOINTS, params={"page_size": 2, "cursor": first["next_cursor"]}, headers=tenant_a.headers
    )
    assert [item["id"] for item in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


async def test_an_endpoint_is_changed_paused_and_deleted(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    created = await register(client, tenant_a.headers, receiver.url())
    path = f"{ENDPOINTS}/{created['id']}"
    changed = await client.patch(
        path,
        json={"url": receiver.url(path="/other"), "events": ["dataset.created"], "enabled": False},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["url"].endswith("/other")
    assert changed.json()["events"] == ["dataset.created"]
    assert changed.json()["enabled"] is False
    refused = await client.patch(path, json={"url": None}, headers=tenant_a.headers)
    assert refused.status_code == 422
    assert (await client.delete(path, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(path, headers=tenant_a.headers)).status_code == 404


async def test_unknown_event_types_are_refused_naming_the_known_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    response = await client.post(
        ENDPOINTS,
        json={"url": receiver.url(), "events": ["api_key.exploded"]},
        headers=tenant_a.headers,
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    for event_type in EVENT_TYPES:
        assert event_type in message
    assert "'*'" in message
    assert "exploded" not in response.text  # a 422 never echoes the input
    empty = await client.post(
        ENDPOINTS, json={"url": receiver.url(), "events": []}, headers=tenant_a.headers
    )
    assert empty.status_code == 422


async def test_another_tenants_endpoints_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, receiver: Receiver
) -> None:
    theirs = await register(client, tenant_a.headers, receiver.url())
    path = f"{ENDPOINTS}/{theirs['id']}"
    attempts = [
        await client.get(path, headers=tenant_b.headers),
        await client.patch(path, json={"enabled": False}, headers=tenant_b.headers),
        await client.delete(path, headers=tenant_b.headers),
        await client.get(f"{path}/deliveries", headers=tenant_b.headers),
        await client.post(f"{path}/deliveries/{MISSING_ID}/redeliver", headers=tenant_b.headers),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.url
        assert response.json()["code"] == "not_found"
    listed = (await client.get(ENDPOINTS, headers=tenant_b.headers)).json()
    assert listed == {"items": [], "next_cursor": None}
    still = await client.get(path, headers=tenant_a.headers)
    assert still.json()["enabled"] is True


async def test_without_a_server_key_no_endpoint_is_made(
    settings: Settings, db: FastAPI, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    keyless = create_app(settings.model_copy(update={"webhook_allow_private": True}))
    async with keyless.router.lifespan_context(keyless), asgi_client(keyless) as client:
        response = await client.post(
            ENDPOINTS, json={"url": receiver.url(), "events": ["*"]}, headers=tenant_a.headers
        )
    assert response.status_code == 409
    assert response.json()["code"] == "secret_key_missing"
    assert "RELAY_SECRET_KEY" in response.json()["detail"]
