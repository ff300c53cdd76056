"""Events reach a real receiver, signed: the SDK's verify accepts what the server sent;
the body names the event and the tenant and holds no secret; a receiver that fails gets
the event again until it answers 2xx; a delivery can be sent again; each endpoint gets
only the events it asked for, and only its own tenant's."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from relay.actors import Actor
from relay.config import Settings
from relay.db import Database, utcnow
from relay.notices import sweeps
from relay.tenants import members, roles
from relay.tenants import service as tenants_service
from relay.webhooks.addresses import UrlPolicy
from relay.webhooks.models import WebhookDelivery, WebhookEvent
from relay.webhooks.outbox import ACTION_EVENTS, EVENT_TYPES
from relay.webhooks.retention import prune_outbox
from relay.webhooks.sender import WebhookSender
from relay_sdk.webhooks import WebhookVerificationError, verify
from tests.factories import TenantFixture, make_api_key, set_key_expiry
from tests.secret_detector import secret_shapes_in
from tests.webhooks.conftest import ENDPOINTS, deliveries_when, register
from tests.webhooks.receiver import Receiver

KEYS = "/api/v1/auth/api-keys"


async def test_a_change_is_delivered_signed_and_the_sdk_verifies_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    made = await client.post(
        KEYS, json={"name": "Deploy", "scopes": ["datasets:read"]}, headers=tenant_a.headers
    )
    (arrived,) = await receiver.arrived(1)
    event = verify(arrived.body, arrived.headers["Relay-Signature"], endpoint["secret"])
    assert event["type"] == "api_key.created"
    assert event["id"].startswith("evt_")
    assert arrived.headers["Relay-Event-Id"] == event["id"]
    assert arrived.headers["Content-Type"] == "application/json"
    assert event["tenant_id"] == str(tenant_a.tenant_id)
    assert event["created_at"].endswith("Z")
    assert event["data"]["target"] == {
        "type": "api_key",
        "id": made.json()["id"],
        "name": f"Deploy ({made.json()['key_prefix']}…)",
    }
    assert event["data"]["details"] == {"scopes": ["datasets:read"]}
    assert event["data"]["actor"].startswith("api_key:")
    # Never a secret: not the new key, not the endpoint's secret, nothing of their shapes.
    text = arrived.body.decode()
    assert made.json()["key"] not in text
    assert endpoint["secret"] not in text
    assert secret_shapes_in(text) == []
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(arrived.body, arrived.headers["Relay-Signature"], "whsec_" + "x" * 43)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(arrived.body + b" ", arrived.headers["Relay-Signature"], endpoint["secret"])
    (delivery,) = await deliveries_when(
        client, endpoint["id"], tenant_a.headers, lambda items: items[0]["status"] != "pending"
    )
    assert delivery["status"] == "delivered"
    assert delivery["event_id"] == event["id"]
    assert delivery["event_type"] == "api_key.created"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["next_attempt_at"] is None


async def test_each_key_change_is_announced_with_its_type(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    expected = [
        "api_key.created", "api_key.updated", "api_key.disabled", "api_key.enabled",
        "api_key.rotated", "api_key.revoked", "dataset.created", "dataset.updated",
        "dataset.deleted",
    ]  # fmt: skip
    await register(client, tenant_a.headers, receiver.url(), expected)
    key_id = (await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)).json()["id"]
    await client.patch(f"{KEYS}/{key_id}", json={"name": "k2"}, headers=tenant_a.headers)
    await client.patch(f"{KEYS}/{key_id}", json={"disabled": True}, headers=tenant_a.headers)
    await client.patch(f"{KEYS}/{key_id}", json={"disabled": False}, headers=tenant_a.headers)
    rotated = await client.post(f"{KEYS}/{key_id}/rotate", json={}, headers=tenant_a.headers)
    await client.delete(f"{KEYS}/{rotated.json()['id']}", headers=tenant_a.headers)
    dataset = await client.post("/api/v1/datasets", json={"name": "d"}, headers=tenant_a.headers)
    path = f"/api/v1/datasets/{dataset.json()['id']}"
    await client.patch(path, json={"name": "d2"}, headers=tenant_a.headers)
    await client.delete(path, headers=tenant_a.headers)
    arrived = await receiver.arrived(len(expected))
    types = [json.loads(item.body)["type"] for item in arrived]
    assert sorted(types) == sorted(expected)
    for item in arrived:
        assert secret_shapes_in(item.body.decode()) == []
        assert rotated.json()["key"] not in item.body.decode()


async def test_an_endpoint_gets_only_the_events_it_subscribed_to(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.revoked"])
    key_id = (await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)).json()["id"]
    await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)
    (arrived,) = await receiver.arrived(1)
    assert json.loads(arrived.body)["type"] == "api_key.revoked"
    deliveries = (
        await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=tenant_a.headers)
    ).json()["items"]
    assert [delivery["event_type"] for delivery in deliveries] == ["api_key.revoked"]


async def test_a_paused_endpoint_is_sent_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url())
    path = f"{ENDPOINTS}/{endpoint['id']}"
    await client.patch(path, json={"enabled": False}, headers=tenant_a.headers)
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    # Decided in the change's own transaction: no delivery was even made.
    listed = (await client.get(f"{path}/deliveries", headers=tenant_a.headers)).json()
    assert listed == {"items": [], "next_cursor": None}


async def test_a_failing_receiver_gets_the_event_again_until_it_answers(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    receiver.answer_next(500, 503)
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    first, second, third = await receiver.arrived(3)
    assert first.body == second.body == third.body
    assert first.headers["Relay-Event-Id"] == third.headers["Relay-Event-Id"]
    verify(third.body, third.headers["Relay-Signature"], endpoint["secret"])
    (delivery,) = await deliveries_when(
        client, endpoint["id"], tenant_a.headers, lambda items: items[0]["status"] == "delivered"
    )
    assert delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None


async def test_a_delivery_that_fails_for_24_hours_is_given_up(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    receiver.answer_next(*[500] * 3)
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    await receiver.arrived(1)
    # As if its first attempt had been a day ago: the next failure is its last.
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=24))
        )
    (delivery,) = await deliveries_when(
        client, endpoint["id"], tenant_a.headers, lambda items: items[0]["status"] == "failed"
    )
    assert delivery["last_status_code"] == 500
    assert delivery["last_error"] == "HTTP 500"
    assert delivery["next_attempt_at"] is None


async def test_a_delivery_is_sent_again_on_request(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    (first,) = await receiver.arrived(1)
    (delivered,) = await deliveries_when(
        client, endpoint["id"], tenant_a.headers, lambda items: items[0]["status"] == "delivered"
    )
    again = await client.post(
        f"{ENDPOINTS}/{endpoint['id']}/deliveries/{delivered['id']}/redeliver",
        headers=tenant_a.headers,
    )
    assert again.status_code == 202
    assert again.json()["status"] == "pending"
    assert again.json()["event_id"] == delivered["event_id"]
    assert again.json()["id"] != delivered["id"]
    _, second = await receiver.arrived(2)
    assert second.headers["Relay-Event-Id"] == first.headers["Relay-Event-Id"]
    assert json.loads(second.body) == json.loads(first.body)
    verify(second.body, second.headers["Relay-Signature"], endpoint["secret"])


async def test_two_tenants_never_see_each_others_events(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, receiver: Receiver
) -> None:
    theirs = await register(client, tenant_b.headers, receiver.url(path="/b"), ["api_key.created"])
    ours = await register(client, tenant_a.headers, receiver.url(path="/a"), ["api_key.created"])
    await client.post(KEYS, json={"name": "a's key"}, headers=tenant_a.headers)
    (arrived,) = await receiver.arrived(1)
    assert arrived.path == "/a"
    assert json.loads(arrived.body)["tenant_id"] == str(tenant_a.tenant_id)
    listed = await client.get(f"{ENDPOINTS}/{theirs['id']}/deliveries", headers=tenant_b.headers)
    assert listed.json()["items"] == []
    # Nor through the other's endpoint id.
    refused = await client.get(f"{ENDPOINTS}/{ours['id']}/deliveries", headers=tenant_b.headers)
    assert refused.status_code == 404


def test_every_event_type_is_announced_by_some_change() -> None:
    assert sorted(set(ACTION_EVENTS.values())) == sorted(EVENT_TYPES)


async def test_a_members_new_role_is_announced_from_and_to(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["member.role_changed"])
    password_hash = await tenants_service.prepare_password("correct horse battery")
    async with db.sessionmaker.begin() as session:
        owner, member = [
            await tenants_service.create_user(
                session, tenant_id=tenant_a.tenant_id, email=email,
                password_hash=password_hash, role=role,
            )
            for email, role in (("o@example.com", roles.OWNER), ("m@example.com", roles.VIEWER))
        ]  # fmt: skip
        await members.change_role(
            session, changer=owner, member_id=member.id, role=roles.DEVELOPER,
            actor=Actor.user(owner.email, client_address=None, user_agent=None),
        )  # fmt: skip
    (arrived,) = await receiver.arrived(1)
    event = verify(arrived.body, arrived.headers["Relay-Signature"], endpoint["secret"])
    assert event["type"] == "member.role_changed"
    assert event["data"]["details"] == {"from": "viewer", "to": "developer"}
    assert event["data"]["actor"] == "user:o@example.com"


async def test_finished_deliveries_and_their_events_are_pruned_after_30_days(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    receiver.answer_next(*[500] * 1000)  # the second event stays pending
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    await receiver.arrived(1)
    long_ago = utcnow() - timedelta(days=31)
    async with db.sessionmaker.begin() as session:
        await session.execute(update(WebhookDelivery).values(created_at=long_ago))
        await session.execute(update(WebhookEvent).values(created_at=long_ago))
        (first_id,) = (await session.scalars(select(WebhookDelivery.id))).all()
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == first_id).values(status="failed")
        )
    await client.post(KEYS, json={"name": "k2"}, headers=tenant_a.headers)
    async with db.sessionmaker.begin() as session:
        assert await prune_outbox(session) == 2  # the failed delivery, then its event
    async with db.sessionmaker.begin() as session:
        assert await prune_outbox(session) == 0
    left = (
        await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=tenant_a.headers)
    ).json()["items"]
    assert [delivery["status"] for delivery in left] == ["pending"]


async def test_a_key_expiring_soon_is_announced(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.expiring"])
    key_id, _ = await make_api_key(db, tenant_a, name="Soon gone")
    await set_key_expiry(db, key_id, utcnow() + timedelta(days=3))
    await sweeps.sweep(db.sessionmaker)
    (arrived,) = await receiver.arrived(1)
    event = verify(arrived.body, arrived.headers["Relay-Signature"], endpoint["secret"])
    assert event["type"] == "api_key.expiring"
    assert event["data"]["target"]["id"] == str(key_id)
    assert event["data"]["details"]["days"] == 7


async def test_a_server_that_cannot_sign_claims_nothing(settings: Settings) -> None:
    """Without RELAY_SECRET_KEY a sender leaves every delivery to a server that can sign
    it: it does not even read the outbox (here, a database that is not there), where a
    claim would spend an attempt and delay the delivery by a back-off."""
    keyless = settings.model_copy(
        update={"secret_key": "", "database_url": "sqlite:////nonexistent/dir/relay.db"}
    )
    sender = WebhookSender(keyless, UrlPolicy(allow_private=True))
    try:
        assert await sender.send_due() == 0
    finally:
        await sender.stop()
