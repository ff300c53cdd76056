"""The sender checks an endpoint's URL again right before each send, and connects to the
address it checked: a URL refused by then is sent nothing (the delivery says why), and
a name is never resolved a second time by anything else. Only loopback is ever reached."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from relay.webhooks.addresses import UrlPolicy
from tests.factories import TenantFixture
from tests.webhooks.conftest import deliveries_when, register
from tests.webhooks.receiver import Receiver


async def test_the_sender_checks_again_and_sends_nothing_to_a_refused_address(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    # Registered while private addresses were allowed, then the rule is back on: the
    # loopback receiver must get nothing, and the delivery says why.
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["dataset.created"])
    policy: UrlPolicy = app.state.webhook_urls
    policy.allow_private = False
    made = await client.post("/api/v1/datasets", json={"name": "x"}, headers=tenant_a.headers)
    assert made.status_code == 201
    (delivery,) = await deliveries_when(
        client, endpoint["id"], tenant_a.headers, lambda items: bool(items[0]["last_error"])
    )
    assert delivery["status"] == "pending"
    assert delivery["last_error"].startswith("Not sent: The URL reaches a loopback")
    assert delivery["last_status_code"] is None
    assert receiver.received == []


async def test_the_sender_connects_to_the_address_it_checked(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    # hooks.test exists only in the stub: delivered at all, the request went to the
    # address the check resolved (loopback here), the name kept in the Host header.
    policy: UrlPolicy = app.state.webhook_urls

    async def loopback_only(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "hooks.test" else []

    policy.resolve = loopback_only
    await register(client, tenant_a.headers, receiver.url(host="hooks.test"), ["dataset.created"])
    await client.post("/api/v1/datasets", json={"name": "x"}, headers=tenant_a.headers)
    (arrived,) = await receiver.arrived(1)
    assert arrived.headers["Host"] == f"hooks.test:{receiver.port}"
