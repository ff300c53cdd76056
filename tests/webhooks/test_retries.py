"""Failed attempts, against a real receiver: any answer but a 2xx is a failure (a
redirect, not followed, or a 4xx as much as a 5xx) and the delivery is tried again
after RELAY_WEBHOOK_RETRY_BASE seconds, doubled at each failure; a receiver that never
answers is cut off at the sender's timeout (10 s unless told).

The back-off here is long (BASE): nothing is tried again by itself while a test runs.
A test makes the delivery due when it wants the next attempt, and reads when that
attempt was planned from the delivery list, bracketed by the clock readings taken
before the attempt could start and after its outcome was seen."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from relay.actors import SYSTEM
from relay.config import Settings
from relay.db import Database, open_database, utcnow
from relay.webhooks import service as webhooks_service
from relay.webhooks import signing
from relay.webhooks.addresses import UrlPolicy
from relay.webhooks.models import WebhookDelivery
from relay.webhooks.schemas import WebhookEndpointCreate
from relay.webhooks.sender import TIMEOUT_SECONDS, WebhookSender
from relay_sdk.webhooks import verify
from tests.conftest import emptied
from tests.factories import TenantFixture, make_api_key, make_tenant
from tests.webhooks.conftest import deliveries_when, register
from tests.webhooks.receiver import REDIRECTED, Receiver

KEYS = "/api/v1/auth/api-keys"
BASE = 1000.0


@pytest.fixture
def webhook_settings(webhook_settings: Settings) -> Settings:
    """The suite's, with a back-off far longer than a test."""
    return webhook_settings.model_copy(update={"webhook_retry_base": BASE})


def planned(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(delivery["next_attempt_at"])


async def attempt_recorded(
    client: httpx.AsyncClient, endpoint_id: str, headers: dict[str, str], attempts: int,
    since: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The delivery once its `attempts`-th attempt, started after `since`, is recorded:
    delivered, or planned again at least BASE later (a claim in flight plans its lease,
    60 s, much sooner)."""

    def recorded(items: list[dict[str, Any]]) -> bool:
        delivery = items[0]
        return delivery["attempts"] == attempts and (
            delivery["status"] != "pending" or planned(delivery) >= since + timedelta(seconds=BASE)
        )

    (delivery,) = await deliveries_when(client, endpoint_id, headers, recorded)
    return delivery


async def made_due(db: Database, delivery_id: str) -> datetime:
    """Make the delivery due now (as if its back-off had passed); returns the time
    before which its next attempt cannot have started."""
    now = utcnow()
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(delivery_id))
            .values(next_attempt_at=now)
        )
    return now


async def test_a_redirect_or_a_4xx_answer_is_a_failure_and_is_tried_again(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    receiver.answer_next(302, 410)
    since = utcnow()
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    for attempt, status in ((1, 302), (2, 410)):
        delivery = await attempt_recorded(client, endpoint["id"], tenant_a.headers, attempt, since)
        assert delivery["status"] == "pending"
        assert delivery["last_status_code"] == status
        assert delivery["last_error"] == f"HTTP {status}"
        assert delivery["delivered_at"] is None
        since = await made_due(db, delivery["id"])
    delivery = await attempt_recorded(client, endpoint["id"], tenant_a.headers, 3, since)
    assert delivery["status"] == "delivered"
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None
    # The same signed event each time; the 302's Location was never followed.
    first, second, third = receiver.received
    assert [item.path for item in receiver.received] == ["/hooks"] * 3
    assert REDIRECTED not in {item.path for item in receiver.received}
    assert first.body == second.body == third.body
    assert first.headers["Relay-Event-Id"] == third.headers["Relay-Event-Id"]
    verify(third.body, third.headers["Relay-Signature"], endpoint["secret"])


async def test_each_failure_doubles_the_wait_before_the_next_attempt(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.created"])
    receiver.answer_next(500, 503, 500)
    since = utcnow()
    await client.post(KEYS, json={"name": "k"}, headers=tenant_a.headers)
    for attempt, multiple in ((1, 1), (2, 2), (3, 4)):
        delivery = await attempt_recorded(client, endpoint["id"], tenant_a.headers, attempt, since)
        seen = utcnow()
        # Planned `multiple` times BASE after the attempt's outcome was recorded, which was
        # after `since` and before `seen`.
        wait = timedelta(seconds=BASE * multiple)
        assert since + wait <= planned(delivery) <= seen + wait, (attempt, delivery)
        assert delivery["status"] == "pending"
        since = await made_due(db, delivery["id"])
    delivery = await attempt_recorded(client, endpoint["id"], tenant_a.headers, 4, since)
    assert delivery["status"] == "delivered"
    assert delivery["next_attempt_at"] is None
    assert len(receiver.received) == 4


@pytest.fixture
def silent_receiver() -> Iterator[str]:
    """A URL on loopback that takes connections and never answers: the socket listens
    but nothing accepts, so the request waits in its backlog."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/hooks"


@pytest.fixture
def trickling_receiver() -> Iterator[str]:
    """A URL on loopback that answers one byte of its status line every 0.2 s, for at
    most 20 s: each read is quick, the answer never ends."""
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listening:
        listening.settimeout(20)

        def trickle() -> None:
            with contextlib.suppress(OSError), listening.accept()[0] as connection:
                for byte in b"HTTP/1.1 200 OK\r\n" * 7:
                    if stop.wait(0.2):
                        return
                    connection.sendall(bytes([byte]))

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/hooks"
        stop.set()
        thread.join(timeout=25)


@pytest.fixture
async def database_alone(webhook_settings: Settings) -> AsyncIterator[Database]:
    """The test database with no app running: the test's sender is the only one."""
    async with open_database(webhook_settings) as database:
        yield database
    await emptied(webhook_settings)


@pytest.mark.parametrize("receiving", ["silent_receiver", "trickling_receiver"])
async def test_a_receiver_that_never_answers_is_cut_off_at_the_timeout(
    database_alone: Database,
    webhook_settings: Settings,
    receiving: str,
    request: pytest.FixtureRequest,
) -> None:
    """Silent, or sending its answer a byte at a time (each read within httpx's timeout):
    the attempt as a whole is cut off."""
    receiver_url: str = request.getfixturevalue(receiving)
    tenant = await make_tenant(database_alone)
    urls = UrlPolicy(allow_private=True)
    async with database_alone.sessionmaker.begin() as session:
        endpoint, _secret = await webhooks_service.create_endpoint(
            session, tenant_id=tenant.tenant_id,
            data=WebhookEndpointCreate(url=receiver_url, events=["api_key.created"]),
            urls=urls, sealing_key=signing.sealing_key(webhook_settings), actor=SYSTEM,
        )  # fmt: skip
        endpoint_id = endpoint.id
    await make_api_key(database_alone, tenant)  # api_key.created: one delivery, due now
    sender = WebhookSender(webhook_settings, urls, timeout=0.5)
    try:
        # Within the deadline only if the attempt is cut off (one waits forever else).
        assert await asyncio.wait_for(sender.send_due(), timeout=30) == 1
    finally:
        await sender.stop()
    async with database_alone.sessionmaker() as session:
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
    assert delivery is not None
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error == "No answer within 0.5 s"
    assert delivery.lease_id is None  # recorded, and planned again after the back-off
    assert delivery.next_attempt_at >= delivery.created_at + timedelta(seconds=BASE)


async def test_the_sender_waits_10_seconds_for_an_answer_unless_told(
    webhook_settings: Settings,
) -> None:
    sender = WebhookSender(webhook_settings, UrlPolicy(allow_private=True))
    try:
        assert sender.timeout == TIMEOUT_SECONDS == 10.0
    finally:
        await sender.stop()
