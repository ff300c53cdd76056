"""Events raised away from the key and dataset API reach a subscribed endpoint's real
receiver, signed, in the documented shape {id, type, created_at, tenant_id, data} and
with no secret in them: members invited, joining and removed in the dashboard, a key
reported leaked, a key's quota at 80 % and 100 % (the notices' sweep), and a key used
from a new network."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from relay.auth.activity import KeyActivity
from relay.config import Settings
from relay.db import Database
from relay.limits.quotas import Quota, QuotaLedger
from relay.notices import sweeps
from relay.tenants.models import User
from relay_sdk.webhooks import verify
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_up
from tests.dashboard.test_members_and_datasets import MEMBERS, invite, member_id_of
from tests.factories import TenantFixture, key_headers, make_api_key
from tests.leaks.reporter import Reporter
from tests.notices.helpers import make_key
from tests.secret_detector import secret_shapes_in
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Received, Receiver
from tests.webhooks.test_dashboard_webhooks import SECRET, added


@pytest.fixture(scope="module")
def reporter() -> Reporter:
    return Reporter()


@pytest.fixture
def webhook_settings(webhook_settings: Settings, reporter: Reporter) -> Settings:
    """The suite's, trusting a leak reporter: the one app of each test takes reports."""
    return webhook_settings.model_copy(update={"leak_reporter_keys": reporter.setting})


def signed_event(
    arrived: Received, secret: str, tenant_id: uuid.UUID, *never: str
) -> dict[str, Any]:
    """The event, once its signature is checked and its shape is the documented one,
    with no secret in it (of any known shape, nor any of `never`)."""
    event = verify(arrived.body, arrived.headers["Relay-Signature"], secret)
    assert sorted(event) == ["created_at", "data", "id", "tenant_id", "type"]
    assert event["id"].startswith("evt_")
    assert arrived.headers["Relay-Event-Id"] == event["id"]
    assert event["tenant_id"] == str(tenant_id)
    assert event["created_at"].endswith("Z")
    datetime.fromisoformat(event["created_at"])
    assert sorted(event["data"]) == ["actor", "details", "target"]
    text = arrived.body.decode()
    assert secret_shapes_in(text) == []
    for secret_text in (secret, *never):
        assert secret_text not in text
    return event


async def arrival(
    receiver: Receiver, ready: Callable[[dict[str, Any]], bool], within: float = 15.0
) -> Received:
    """The first request whose event `ready` accepts (AssertionError after `within`)."""
    deadline = time.monotonic() + within
    while True:
        for received in receiver.received:
            if ready(json.loads(received.body)):
                return received
        assert time.monotonic() < deadline, f"no such event in {len(receiver.received)}"
        await asyncio.sleep(0.02)


async def test_members_invited_joining_and_removed_are_delivered(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner_email, member_email = new_email(), new_email()
    await sign_up(client, owner_email)
    made = await added(client, receiver.url(), "member.invited", "member.joined", "member.removed")
    secret = SECRET.search(made.text)
    assert secret is not None
    link = await invite(client, member_email, "developer")
    token = link.rsplit("/", 1)[1]
    async with asgi_client(app, "192.0.2.77") as member:
        assert (await post_form(member, link, link, {"password": PASSWORD})).status_code == 303
    member_id = await member_id_of(app, member_email)
    removed = await post_form(client, MEMBERS, f"{MEMBERS}/{member_id}/remove", {})
    assert removed.status_code == 303
    async with app.state.db.sessionmaker() as session:
        tenant_id = await session.scalar(select(User.tenant_id).where(User.email == owner_email))

    arrived = await receiver.arrived(3)
    events = {
        event["type"]: event
        for event in (
            signed_event(item, secret.group(), tenant_id, token, PASSWORD) for item in arrived
        )
    }
    assert sorted(events) == ["member.invited", "member.joined", "member.removed"]
    invited, joined, gone = (events[f"member.{kind}"] for kind in ("invited", "joined", "removed"))
    assert invited["data"]["target"]["type"] == "invitation"
    assert invited["data"]["target"]["name"] == member_email
    assert invited["data"]["actor"] == f"user:{owner_email}"
    assert joined["data"]["target"] == {"type": "user", "id": member_id, "name": member_email}
    assert joined["data"]["actor"] == f"user:{member_email}"
    assert gone["data"]["target"] == {"type": "user", "id": member_id, "name": member_email}
    assert gone["data"]["actor"] == f"user:{owner_email}"


async def test_a_key_reported_leaked_is_delivered(
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    receiver: Receiver,
    reporter: Reporter,
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.leaked"])
    key_id, key = await make_api_key(db, tenant_a, name="CI")
    body, headers = reporter.report(key, url="https://github.com/acme/app/blob/main/.env")
    answer = await client.post("/api/v1/leaked-keys", content=body, headers=headers)
    assert answer.status_code == 202

    (arrived,) = await receiver.arrived(1)
    event = signed_event(arrived, endpoint["secret"], tenant_a.tenant_id, key)
    assert event["type"] == "api_key.leaked"
    assert event["data"]["target"]["id"] == str(key_id)
    assert event["data"]["details"] == {
        "url": "https://github.com/acme/app/blob/main/.env",
        "source": "content",
    }
    assert event["data"]["actor"] == "leak-report:scanner"


async def test_a_quota_at_80_and_100_percent_is_delivered(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(
        client, tenant_a.headers, receiver.url(),
        ["api_key.quota_warning", "api_key.quota_exhausted"],
    )  # fmt: skip
    key_id, _prefix = await make_key(db, tenant_a.tenant_id, name="Metered", quota=(10, "day"))
    ledger = QuotaLedger(db.engine)
    quota = Quota(key_id, 10, "day")
    for _ in range(8):
        assert (await ledger.take([quota]))[0].allowed
    await sweeps.sweep(db.sessionmaker)
    (warned,) = await receiver.arrived(1)
    warning = signed_event(warned, endpoint["secret"], tenant_a.tenant_id)
    assert warning["type"] == "api_key.quota_warning"

    for _ in range(2):
        assert (await ledger.take([quota]))[0].allowed
    await sweeps.sweep(db.sessionmaker)
    _, spent = await receiver.arrived(2)
    exhausted = signed_event(spent, endpoint["secret"], tenant_a.tenant_id)
    assert exhausted["type"] == "api_key.quota_exhausted"
    for event in (warning, exhausted):
        assert event["data"]["target"]["id"] == str(key_id)
        assert event["data"]["details"]["requests"] == 10
        assert event["data"]["details"]["period"] == "day"
    assert len(receiver.received) == 2  # each once


async def test_a_key_used_from_a_new_network_is_delivered(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
    receiver: Receiver,
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.new_network"])
    key_id, key = await make_api_key(db, tenant_a, name="Deploy")
    async with asgi_client(app, "198.51.100.7") as elsewhere:
        used = await elsewhere.get(
            "/api/v1/datasets", headers=key_headers(key) | {"User-Agent": "deploy/3"}
        )
        assert used.status_code == 200
    activity: KeyActivity = app.state.activity
    await activity.flush()

    # The tenant's first key, used from loopback above, may be announced too: this
    # test's key is the one looked for.
    arrived = await arrival(receiver, lambda event: event["data"]["target"]["id"] == str(key_id))
    event = signed_event(arrived, endpoint["secret"], tenant_a.tenant_id, key)
    assert event["type"] == "api_key.new_network"
    assert event["data"]["details"] == {"network": "198.51.100.0/24", "user_agent": "deploy/3"}
    assert event["data"]["actor"].startswith("api_key:")
