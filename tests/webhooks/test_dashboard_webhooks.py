"""Settings > Webhooks in the dashboard: add an endpoint (its secret shown once), its
delivery log filled by a real receiver on loopback, Send again, Pause and Delete; a
viewer reads them and is offered no change (no browser)."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from fastapi import FastAPI

from relay.tenants import roles
from relay_sdk.webhooks import verify
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_api_keys_page import create_in_dashboard
from tests.dashboard.test_members_and_datasets import joined_member
from tests.webhooks.receiver import Receiver

PAGE = "/settings/webhooks"
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]+")


async def added(client: httpx.AsyncClient, url: str, *events: str) -> httpx.Response:
    return await post_form(client, PAGE, PAGE, {"url": url, "events": list(events) or ["*"]})


async def endpoint_page_when(
    client: httpx.AsyncClient, path: str, shown: str, within: float = 15.0
) -> str:
    """The endpoint's page once it shows `shown` (deliveries are sent in the background)."""
    deadline = time.monotonic() + within
    while True:
        page = (await client.get(path)).text
        if shown in page:
            return page
        assert time.monotonic() < deadline, f"{shown!r} never showed"
        await asyncio.sleep(0.05)


async def test_an_endpoint_is_added_with_its_secret_shown_once_and_its_log_filled(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await sign_up(client)
    made = await added(client, receiver.url(), "api_key.created")
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    secret = SECRET.search(made.text)
    assert secret is not None
    listed = (await client.get(PAGE)).text
    assert secret.group() not in listed
    link = re.search(r'href="(/settings/webhooks/[0-9a-f-]{36})">', listed)
    assert link is not None
    assert "api_key.created" in listed

    assert (await create_in_dashboard(client, "Deploy")).status_code == 201
    (arrived,) = await receiver.arrived(1)
    # The secret the page showed is the one deliveries are signed with.
    event = verify(arrived.body, arrived.headers["Relay-Signature"], secret.group())
    assert event["type"] == "api_key.created"
    page = await endpoint_page_when(client, link.group(1), "Delivered")
    assert "<code>api_key.created</code>" in page
    assert "HTTP 200" in page or "HTTP 2" in page

    action = re.search(r'action="(/settings/webhooks/[^"]+/redeliver)"', page)
    assert action is not None
    again = await post_form(client, link.group(1), action.group(1), {})
    assert again.status_code == 303
    assert len(await receiver.arrived(2)) == 2  # the same event, once more

    paused = await post_form(
        client, link.group(1), f"{link.group(1)}/enabled", {"enabled": "false"}
    )
    assert paused.status_code == 303
    assert "Paused" in (await client.get(link.group(1))).text
    deleted = await post_form(client, link.group(1), f"{link.group(1)}/delete", {})
    assert deleted.status_code == 303
    assert "No endpoints yet." in (await client.get(PAGE)).text


async def test_a_url_not_to_send_to_is_refused_at_its_field(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    for url, said in (("ftp://example.com/x", "URL"), ("", "URL")):
        refused = await added(client, url)
        assert refused.status_code == 422, url
        assert 'id="webhook-url-error"' in refused.text
        assert said in refused.text
    assert "No endpoints yet." in (await client.get(PAGE)).text


async def test_a_viewer_reads_the_endpoints_and_is_offered_no_change(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await sign_up(client)
    assert (await added(client, receiver.url())).status_code == 201
    async with joined_member(app, client, roles.VIEWER) as (_email, viewer):
        page = (await viewer.get(PAGE)).text
        assert receiver.url() in page
        assert "Add an endpoint" not in page
        refused = await post_form(viewer, PAGE, PAGE, {"url": receiver.url(), "events": "*"})
        assert refused.status_code == 403
