"""The sender: a background task of every worker that delivers the outbox, at least once.

Each turn claims up to BATCH due deliveries in one short transaction (PostgreSQL: FOR
UPDATE SKIP LOCKED, so workers and servers each take different rows; SQLite has one
process), moving their next attempt past LEASE: no other sender takes them while they
are in flight, and a sender that dies mid-send leaves them due again once it passes.
Each is then POSTed (10 s timeout, no redirects, no proxy from the environment), to the
address its URL is checked to reach right before (webhooks/addresses.py), and the
outcome recorded, only by the claim's holder: a 2xx is delivered; anything else is
tried again after RELAY_WEBHOOK_RETRY_BASE seconds, doubled at each failure, for 24
hours, then failed. Pending deliveries stay in the database: a restarted server sends them.
Logs name the delivery, never its secret or signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.accounts.sealing import SecretKeyMissing
from relay.config import Settings
from relay.db import create_engine, utcnow
from relay.metrics import WEBHOOK_DELIVERIES
from relay.schemas import iso_utc
from relay.webhooks import signing
from relay.webhooks.addresses import UrlPolicy, UrlRefused
from relay.webhooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

BATCH = 20
TIMEOUT_SECONDS = 10.0
# Longer than an attempt can take (the timeout, the claim and the record): never
# reached by a live sender, so no delivery is sent twice at once.
LEASE = timedelta(seconds=60)
RETRY_WINDOW = timedelta(hours=24)
USER_AGENT = "Relay-Webhooks/1"
# How much longer than an attempt's timeout a stopping sender is given to end its turn.
STOP_MARGIN = 5.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this sender holds, with what sending it needs."""

    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    attempts: int
    created_at: datetime
    endpoint_id: uuid.UUID
    url: str
    sealed_secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    claimed: Claimed
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def event_body(event: WebhookEvent) -> bytes:
    """The JSON every endpoint receives for `event` (compact, as signed)."""
    body = {
        "id": event.id,
        "type": event.type,
        "created_at": iso_utc(event.created_at),
        "tenant_id": str(event.tenant_id),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def retry_delay(base: float, attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a delivery is tried again."""
    return timedelta(seconds=base * 2 ** min(attempts - 1, 30))


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)


async def any_due(session: AsyncSession) -> bool:
    """Whether any delivery is due (a cheap look before a claim's transaction)."""
    found = await session.scalar(
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(_due(utcnow()), WebhookEndpoint.enabled.is_(True))
        .limit(1)
    )
    return found is not None


async def claim_due(session: AsyncSession, *, limit: int = BATCH) -> list[Claimed]:
    """Claim up to `limit` deliveries that are due, to enabled endpoints (see the module)."""
    now = utcnow()
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(_due(now), WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    lease_id = uuid.uuid4()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(
            lease_id=lease_id,
            next_attempt_at=now + LEASE,
            attempts=WebhookDelivery.attempts + 1,
        )
    )
    rows = await session.execute(
        select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    return [
        Claimed(
            delivery_id=delivery.id,
            lease_id=lease_id,
            attempts=delivery.attempts,
            created_at=delivery.created_at,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            sealed_secret=endpoint.sealed_secret,
            event_id=event.id,
            event_type=event.type,
            body=event_body(event),
        )
        for delivery, endpoint, event in rows
    ]


async def record(
    session: AsyncSession, outcome: Outcome, *, retry_base: float, now: datetime
) -> str:
    """Write an attempt's outcome, if the claim is still this sender's; returns
    "delivered", "retry" or "failed"."""
    claimed = outcome.claimed
    values: dict[str, object] = {
        "lease_id": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.delivered:
        said = "delivered"
        values |= {"status": DELIVERED, "delivered_at": now}
    else:
        next_attempt = now + retry_delay(retry_base, claimed.attempts)
        if next_attempt > claimed.created_at + RETRY_WINDOW:
            said = "failed"
            values |= {"status": FAILED}
        else:
            said = "retry"
            values |= {"next_attempt_at": next_attempt}
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == claimed.delivery_id,
            WebhookDelivery.lease_id == claimed.lease_id,
        )
        .values(**values)
    )
    return said


class WebhookSender:
    """Sends due deliveries while the app runs (see the module). Stopped, it ends its
    turn first (an attempt takes at most the timeout), so no connection is dropped
    mid-statement and no outcome is lost; past the timeout and STOP_MARGIN it is
    cancelled. `timeout` (TIMEOUT_SECONDS unless told) bounds each attempt."""

    def __init__(
        self, settings: Settings, urls: UrlPolicy, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        # An engine of its own (one connection at a time): the sender never waits behind
        # requests for a pooled connection, nor they behind it.
        self._engine = create_engine(settings)
        self._sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)
        # Looking for due deliveries takes no write lock (SQLite) and no transaction.
        self._reads = async_sessionmaker(
            self._engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self._settings = settings
        self._urls = urls
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="relay-webhook-sender")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            # Past this, wait_for cancels it: its claims are due again after LEASE.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, self.timeout + STOP_MARGIN)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._engine.dispose()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.send_due()
            except Exception as exc:
                logger.warning("webhook sending failed, will retry: %s", type(exc).__name__)
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), self._settings.webhook_poll_interval
                    )

    async def send_due(self) -> int:
        """One turn: claim, send and record; returns how many were claimed. A server
        that cannot sign (no RELAY_SECRET_KEY) claims nothing: a claim would only spend
        an attempt, and delay the delivery, that a server with the key can make."""
        if not self._settings.secret_key:
            return 0
        async with self._reads() as session:
            if not await any_due(session):
                return 0
        async with self._sessionmaker.begin() as session:
            claimed = await claim_due(session)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(item) for item in claimed))
        now = utcnow()
        async with self._sessionmaker.begin() as session:
            for outcome in outcomes:
                said = await record(
                    session, outcome, retry_base=self._settings.webhook_retry_base, now=now
                )
                WEBHOOK_DELIVERIES.labels(said).inc()
                logger.info(
                    "webhook %s",
                    said,
                    extra={
                        "delivery_id": str(outcome.claimed.delivery_id),
                        "event_type": outcome.claimed.event_type,
                        "status_code": outcome.status_code,
                        "attempt": outcome.claimed.attempts,
                        "error": outcome.error,
                    },
                )
        return len(claimed)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No proxy from the environment: it would send past the address check.
            self._client = httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, trust_env=False
            )
        return self._client

    async def _attempt(self, claimed: Claimed) -> Outcome:
        """One attempt, within `timeout` as a whole (the address check, connecting and the
        answer's status line and headers): httpx bounds each read alone, and a receiver
        sending a byte now and then would hold the attempt, and the batch, for ever."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._send(claimed)
        except TimeoutError:
            return Outcome(claimed, None, f"No answer within {self.timeout:g} s")

    async def _send(self, claimed: Claimed) -> Outcome:
        try:
            key = signing.sealing_key(self._settings)
        except SecretKeyMissing:
            return Outcome(claimed, None, "RELAY_SECRET_KEY is not set: cannot sign")
        secret = signing.open_secret(key, claimed.sealed_secret, endpoint_id=claimed.endpoint_id)
        if secret is None:
            return Outcome(claimed, None, "The signing secret does not open (server key changed?)")
        try:
            checked = await self._urls.check(claimed.url)
        except UrlRefused as refused:
            return Outcome(claimed, None, f"Not sent: {refused.detail}"[:200])
        url = checked.url
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: claimed.event_id,
            signing.SIGNATURE_HEADER: signing.signature(secret, int(time.time()), claimed.body),
        }
        # TLS checks the certificate against the name, though the address is connected to.
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = self._http().build_request(
            "POST",
            checked.at(checked.addresses[0]),
            content=claimed.body,
            headers=headers,
            extensions=extensions,
        )
        try:
            # Streamed and never read: only the status matters, whatever the body's size.
            response = await self._http().send(request, stream=True)
            await response.aclose()
        except httpx.TimeoutException:
            return Outcome(claimed, None, f"No answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(claimed, None, f"Could not connect: {type(exc).__name__}")
        if not response.is_success:
            return Outcome(claimed, response.status_code, f"HTTP {response.status_code}")
        return Outcome(claimed, response.status_code, None)
