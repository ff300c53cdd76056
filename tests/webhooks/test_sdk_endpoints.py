"""The SDK's webhook_endpoints against the server: register, read, list every page,
change, list deliveries, redeliver and delete, and verify what arrives."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from relay_sdk import AsyncRelay, NotFoundError, ValidationError
from relay_sdk.webhooks import verify
from tests.factories import TenantFixture
from tests.webhooks.receiver import Receiver


async def test_the_sdk_manages_endpoints_and_their_deliveries(
    app: FastAPI, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with AsyncRelay(tenant_a.key, base_url="http://testserver", transport=transport) as relay:
        created = await relay.webhook_endpoints.create(receiver.url(), ["dataset.created"])
        assert created.secret.startswith("whsec_")
        assert created.secret not in repr(created)
        assert created.events == ("dataset.created",)
        second = await relay.webhook_endpoints.create(receiver.url(path="/2"), ["*"])
        listed = [endpoint.id async for endpoint in relay.webhook_endpoints.iter(page_size=1)]
        assert listed == [second.id, created.id]
        paused = await relay.webhook_endpoints.update(second.id, enabled=False)
        assert paused.enabled is False
        await relay.webhook_endpoints.delete(second.id)
        with pytest.raises(NotFoundError):
            await relay.webhook_endpoints.get(second.id)
        with pytest.raises(ValidationError):
            await relay.webhook_endpoints.create(receiver.url(), ["dataset.exploded"])

        await relay.datasets.create("Street scenes")
        (arrived,) = await receiver.arrived(1)
        assert verify(arrived.body, arrived.headers["Relay-Signature"], created.secret)["type"] == (
            "dataset.created"
        )
        page = await relay.webhook_endpoints.deliveries(created.id)
        (delivery,) = page.items
        assert delivery.event_type == "dataset.created"
        again = await relay.webhook_endpoints.redeliver(created.id, delivery.id)
        assert (again.event_id, again.status) == (delivery.event_id, "pending")
        _, resent = await receiver.arrived(2)
        assert resent.headers["Relay-Event-Id"] == delivery.event_id
