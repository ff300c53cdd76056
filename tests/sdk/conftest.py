"""Fixtures for the SDK: a fresh tenant's key, and clients of both flavours behind one
async interface, so each test body runs once with Relay and once with AsyncRelay."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relay.auth.principal import Principal
from relay_sdk import AsyncRelay, RateLimitStatus, Relay
from tests.factories import TenantFixture
from tests.live_server import LiveServer

RELAYCTL = str(Path(sys.executable).with_name("relayctl"))

# What nothing relayctl prints may hold, a line's own end aside: C0 and C1 controls,
# DEL, bidi marks, line separators and lone surrogates.
RAW_CONTROLS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ud800-\udfff]"
)
# A title-setting OSC sequence, a colour, a bidi override, CSI on its own, a carriage
# return, and markup with a closing tag nothing opened; then as relayctl shows it.
HOSTILE = "[/bold] \x1b]0;pwned\x07 \x1b[31mred \u202eexe.txt \x9b2J over\rwritten"
SHOWN = "[/bold] \\x1b]0;pwned\\x07 \\x1b[31mred \\u202eexe.txt \\x9b2J over\\rwritten"


def assert_nothing_raw(*printed: str) -> None:
    """No control character in what relayctl printed: each shown as an escape."""
    for text in printed:
        assert not RAW_CONTROLS.search(text), text


@pytest.fixture
def api_key(tenant_a: TenantFixture) -> str:
    """A fresh tenant's key, written straight to the live server's database (the
    `relay tenants create` process would cost a second or two per test)."""
    return tenant_a.key


@pytest.fixture
def env(live_server: LiveServer, api_key: str) -> dict[str, str]:
    """relayctl's environment for the fresh tenant's key and the live server."""
    return {"RELAY_API_KEY": api_key, "RELAY_BASE_URL": live_server.base_url}


async def record_uses(
    app: FastAPI, tenant: TenantFixture, key_id: str, statuses: list[int]
) -> None:
    """Uses of the key answered with `statuses`, counted and written by the server's own
    accounting (this process's app, on the live server's database), so a test need not
    wait for the live server's flush, which runs about once a second."""
    principal = Principal(
        tenant_id=tenant.tenant_id,
        key_id=uuid.UUID(key_id),
        key_prefix="rl_live_test",
        scopes=(),
        expires_at=None,
    )
    for status in statuses:
        app.state.activity.record_use(principal, status, "127.0.0.1", "relay-sdk-tests")
    await app.state.activity.flush()


def run_relayctl(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """relayctl ARGS with only the RELAY_ variables in `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "_RELAYCTL"))}
    return subprocess.run(
        [RELAYCTL, *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def relayctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """relayctl ARGS against the live server, from a worker thread (see _AwaitableResource:
    the test's event loop must keep running while the server works)."""
    return await asyncio.to_thread(run_relayctl, *args, env=env)


_EXHAUSTED = object()


async def _as_async_iterator(items: Iterator[Any]) -> AsyncIterator[Any]:
    while (item := await asyncio.to_thread(next, items, _EXHAUSTED)) is not _EXHAUSTED:
        yield item


class _AwaitableResource:
    """A sync resource whose methods are awaited like the async one's.

    Each call runs in a worker thread: the test's event loop also runs the app
    that wrote the fixtures (and its background flushes), and a blocking call on
    the loop would freeze that app in the middle of a SQLite write transaction,
    so the live server would wait for the lock and answer 503.
    """

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._resource, name)
        if name == "iter":
            return lambda *args, **kwargs: _as_async_iterator(method(*args, **kwargs))

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


class SyncClientAwaited:
    """A Relay driven through the same awaits as an AsyncRelay."""

    def __init__(self, client: Relay) -> None:
        self.client = client
        self.api_keys = _AwaitableResource(client.api_keys)
        self.audit_events = _AwaitableResource(client.audit_events)
        self.datasets = _AwaitableResource(client.datasets)
        self.key_policy = _AwaitableResource(client.key_policy)
        self.limit_pools = _AwaitableResource(client.limit_pools)

    @property
    def last_rate_limit(self) -> RateLimitStatus | None:
        return self.client.last_rate_limit

    async def close(self) -> None:
        self.client.close()


Connect = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    flavour: str = request.param
    return flavour


@pytest.fixture
async def connect(live_server: LiveServer, flavour: str) -> AsyncIterator[Connect]:
    """connect(api_key, **options): a client of the test's flavour, closed after the test.

    `transport` may be an httpx.MockTransport (it serves both flavours) or a
    FaultyLink, whose flavour is picked here."""
    opened: list[Any] = []

    def connect(api_key: str, **options: Any) -> Any:
        options.setdefault("base_url", live_server.base_url)
        if isinstance(options.get("transport"), FaultyLink):
            options["transport"] = options["transport"].for_flavour(flavour)
        if flavour == "sync":
            client: Any = SyncClientAwaited(Relay(api_key, **options))
        else:
            client = AsyncRelay(api_key, **options)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        await client.close()


class FaultyLink:
    """A link to the real server that fails first as told, for either flavour.

    `refuse`: connections that cannot be made (nothing is sent). `lose`: answers
    lost after the server acted on the request. `unavailable`: 503s, as Relay
    answers while its database is down. `delivered` lists the methods of the
    requests the server acted on, `request_ids` the X-Request-ID of every attempt.
    """

    def __init__(self, *, refuse: int = 0, lose: int = 0, unavailable: int = 0) -> None:
        self.refuse, self.lose, self.unavailable = refuse, lose, unavailable
        self.delivered: list[str] = []
        self.request_ids: list[str] = []

    def fault_before_sending(self, request: httpx.Request) -> httpx.Response | None:
        self.request_ids.append(request.headers["X-Request-ID"])
        if self.refuse:
            self.refuse -= 1
            raise httpx.ConnectError("connection refused", request=request)
        if self.unavailable:
            self.unavailable -= 1
            body = {"detail": "Service temporarily unavailable"}
            return httpx.Response(503, json=body, request=request)
        return None

    def after_delivery(self, request: httpx.Request) -> None:
        self.delivered.append(request.method)
        if self.lose:
            self.lose -= 1
            raise httpx.ReadError("connection reset by peer", request=request)

    def for_flavour(self, flavour: str) -> httpx.HTTPTransport | httpx.AsyncHTTPTransport:
        return _SyncLink(self) if flavour == "sync" else _AsyncLink(self)


class _SyncLink(httpx.HTTPTransport):
    def __init__(self, faults: FaultyLink) -> None:
        super().__init__()
        self.faults = faults

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (fault := self.faults.fault_before_sending(request)) is not None:
            return fault
        response = super().handle_request(request)
        response.read()
        response.close()  # the body is kept; the connection goes back to the pool
        self.faults.after_delivery(request)
        return response


class _AsyncLink(httpx.AsyncHTTPTransport):
    def __init__(self, faults: FaultyLink) -> None:
        super().__init__()
        self.faults = faults

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (fault := self.faults.fault_before_sending(request)) is not None:
            return fault
        response = await super().handle_async_request(request)
        await response.aread()
        await response.aclose()  # the body is kept; the connection goes back to the pool
        self.faults.after_delivery(request)
        return response
