"""Delivery survives restarts and several senders: an event committed while a server
runs is sent by the next server if the first stopped before sending it, and workers and
servers sharing a PostgreSQL database never send one delivery twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay_sdk.webhooks import verify
from tests.factories import TenantFixture, key_headers
from tests.live_server import run_server
from tests.webhooks.conftest import ENDPOINTS, SERVER_KEY, deliveries_when, register
from tests.webhooks.receiver import Receiver, run_receiver

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"


def test_a_server_stopped_between_the_change_and_the_send_delivers_after_restart(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"RELAY_SECRET_KEY": SERVER_KEY, "RELAY_WEBHOOK_ALLOW_PRIVATE": "true"}
    # The first server's sender looks for due deliveries once as it starts, then not for
    # a minute: the change below waits in the outbox when the server stops.
    sleepy = env | {"RELAY_WEBHOOK_POLL_INTERVAL": "60"}
    with run_receiver() as receiver:
        with run_server(settings.database_url, tmp_path / "first.log", env=sleepy) as server:
            headers = key_headers(server.create_tenant()["api_key"])
            endpoint = httpx.post(
                f"{server.base_url}{ENDPOINTS}",
                json={"url": receiver.url(), "events": ["api_key.revoked"]},
                headers=headers,
            ).json()
            made = httpx.post(f"{server.base_url}{KEYS}", json={"name": "k"}, headers=headers)
            revoked = httpx.delete(f"{server.base_url}{KEYS}/{made.json()['id']}", headers=headers)
            assert revoked.status_code == 204
        assert receiver.received == []
        with run_server(settings.database_url, tmp_path / "second.log", env=env) as server:
            (arrived,) = receiver.arrived_sync(1)
            event = verify(arrived.body, arrived.headers["Relay-Signature"], endpoint["secret"])
            assert event["type"] == "api_key.revoked"
            assert event["data"]["target"]["id"] == made.json()["id"]
            deliveries = f"{server.base_url}{ENDPOINTS}/{endpoint['id']}/deliveries"
            deadline = time.monotonic() + 15
            while (delivery := httpx.get(deliveries, headers=headers).json()["items"][0])[
                "status"
            ] == "pending" and time.monotonic() < deadline:
                time.sleep(0.05)  # polling, with a deadline, for the outcome's record
            assert delivery["status"] == "delivered"
            assert delivery["attempts"] == 1


async def test_several_workers_never_send_one_delivery_twice(
    app: FastAPI,
    webhook_settings: Settings,
    is_sqlite: bool,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    receiver: Receiver,
) -> None:
    if is_sqlite:
        pytest.skip("several workers need PostgreSQL (relay serve refuses them on SQLite)")
    second, third = (create_app(webhook_settings) for _ in range(2))
    async with second.router.lifespan_context(second), third.router.lifespan_context(third):
        endpoint = await register(client, tenant_a.headers, receiver.url(), ["dataset.created"])
        count = 40
        await asyncio.gather(
            *(
                client.post(DATASETS, json={"name": f"d{n}"}, headers=tenant_a.headers)
                for n in range(count)
            )
        )
        arrived = await receiver.arrived(count)
        await deliveries_when(
            client,
            endpoint["id"],
            tenant_a.headers,
            lambda items: (
                len(items) == count and all(item["status"] == "delivered" for item in items)
            ),
        )
    ids = Counter(json.loads(item.body)["id"] for item in receiver.received)
    assert len(ids) == count
    assert [event for event, times in ids.items() if times > 1] == []
    assert len(arrived) == count
