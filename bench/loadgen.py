"""The load generator of bench/load.py: one client process's share of the workload.

Each process drives its own tenants over its own connections and keeps a tally
of what was acknowledged; load.py starts the processes and adds the tallies up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PORT = 18500


@dataclass
class Tenant:
    admin_key: str  # never revoked: it makes and checks everything else
    extra_keys: dict[str, str] = field(default_factory=dict)  # key -> id
    datasets: list[str] = field(default_factory=list)

    def any_key(self) -> str:
        return random.choice([self.admin_key, *self.extra_keys])


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # operation -> seconds
    statuses: Counter[int] = field(default_factory=Counter)
    created: dict[str, Tenant] = field(default_factory=dict)
    deleted: dict[str, Tenant] = field(default_factory=dict)
    revoked: dict[str, float] = field(default_factory=dict)  # key -> when its 204 came
    transport_errors: Counter[str] = field(default_factory=Counter)
    # Wall-clock times by X-Request-ID, to lay beside the servers' access log.
    sent_at: dict[str, float] = field(default_factory=dict)
    written_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    loop_lags: list[float] = field(default_factory=list)
    late_acceptances: int = 0
    revoked_key_uses: int = 0
    elapsed: float = 0.0

    def add(self, other: Tally) -> None:
        """Fold another client process's tally into this one."""
        for operation, latencies in other.latencies.items():
            self.latencies.setdefault(operation, []).extend(latencies)
        self.statuses.update(other.statuses)
        self.transport_errors.update(other.transport_errors)
        self.created.update(other.created)
        self.deleted.update(other.deleted)
        self.revoked.update(other.revoked)
        self.sent_at.update(other.sent_at)
        self.written_at.update(other.written_at)
        self.answered_at.update(other.answered_at)
        self.loop_lags.extend(other.loop_lags)
        self.late_acceptances += other.late_acceptances
        self.revoked_key_uses += other.revoked_key_uses
        self.elapsed = max(self.elapsed, other.elapsed)


async def timed(
    tally: Tally, operation: str, request: asyncio.Future[httpx.Response] | object
) -> httpx.Response | None:
    """The response, or None when the connection failed (counted; it fails the run)."""
    started = time.perf_counter()
    try:
        response: httpx.Response = await request  # type: ignore[misc]
    except httpx.TransportError as error:
        tally.transport_errors[f"{operation}: {type(error).__name__}"] += 1
        return None
    tally.latencies.setdefault(operation, []).append(time.perf_counter() - started)
    tally.statuses[response.status_code] += 1
    return response


async def worker(
    client: httpx.AsyncClient, tenants: list[Tenant], tally: Tally, stop_at: float
) -> None:
    while time.monotonic() < stop_at:
        tenant = random.choice(tenants)
        roll = random.random()
        if roll < 0.80:
            recently_revoked = [key for key in tally.revoked if random.random() < 0.02]
            if recently_revoked and random.random() < 0.1:
                key = random.choice(recently_revoked)
                sent = time.monotonic()
                response = await timed(
                    tally,
                    "list, revoked key",
                    client.get("/api/v1/datasets", headers={"X-API-Key": key}),
                )
                tally.revoked_key_uses += 1
                if response is not None and response.is_success and sent > tally.revoked[key]:
                    tally.late_acceptances += 1
            else:
                headers = {"X-API-Key": tenant.any_key()}
                await timed(tally, "list datasets", client.get("/api/v1/datasets", headers=headers))
        elif roll < 0.875:
            body = {"name": f"load {random.getrandbits(32)}"}
            response = await timed(
                tally,
                "create dataset",
                client.post("/api/v1/datasets", json=body, headers={"X-API-Key": tenant.admin_key}),
            )
            if response is not None and response.status_code == 201:
                tenant.datasets.append(response.json()["id"])
                tally.created[response.json()["id"]] = tenant
        elif roll < 0.95:
            if not tenant.datasets:
                continue
            dataset_id = tenant.datasets.pop(random.randrange(len(tenant.datasets)))
            response = await timed(
                tally,
                "delete dataset",
                client.delete(
                    f"/api/v1/datasets/{dataset_id}", headers={"X-API-Key": tenant.admin_key}
                ),
            )
            if response is not None and response.status_code == 204:
                tally.deleted[dataset_id] = tenant
        elif roll < 0.975:
            response = await timed(
                tally,
                "create key",
                client.post(
                    "/api/v1/auth/api-keys",
                    json={"name": "load"},
                    headers={"X-API-Key": tenant.admin_key},
                ),
            )
            if response is not None and response.status_code == 201:
                tenant.extra_keys[response.json()["key"]] = response.json()["id"]
        elif tenant.extra_keys:
            key = random.choice(list(tenant.extra_keys))
            key_id = tenant.extra_keys.pop(key)
            response = await timed(
                tally,
                "revoke key",
                client.delete(
                    f"/api/v1/auth/api-keys/{key_id}", headers={"X-API-Key": tenant.admin_key}
                ),
            )
            if response is not None and response.status_code == 204:
                tally.revoked[key] = time.monotonic()


async def watch_loop_lag(lags: list[float], stop_at: float) -> None:
    """How late this client's own event loop wakes up: queueing on our side, not Relay's."""
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


def http_client(connections: int, tally: Tally | None = None) -> httpx.AsyncClient:
    """A client for the servers; with a tally, it stamps and times every request."""

    async def stamp_request(request: httpx.Request) -> None:
        assert tally is not None
        request_id = uuid.uuid4().hex
        request.headers["X-Request-ID"] = request_id
        tally.sent_at[request_id] = time.time()

        async def trace(event: str, info: object) -> None:
            if event == "http11.send_request_headers.started":
                tally.written_at[request_id] = time.time()

        request.extensions["trace"] = trace

    async def stamp_response(response: httpx.Response) -> None:
        assert tally is not None
        tally.answered_at[response.request.headers["X-Request-ID"]] = time.time()

    hooks: dict[str, list[Callable[..., Any]]] = (
        {"request": [stamp_request], "response": [stamp_response]} if tally else {}
    )
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}",
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=30,
        event_hooks=hooks,
    )


async def drive(tenants: list[Tenant], connections: int, seconds: float) -> Tally:
    tally = Tally()
    async with http_client(connections, tally) as client:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(
            watch_loop_lag(tally.loop_lags, stop_at),
            *(worker(client, tenants, tally, stop_at) for _ in range(connections)),
        )
        tally.elapsed = time.monotonic() - started
    return tally


def client_process(
    tenants: list[Tenant],
    connections: int,
    seconds: float,
    start: threading.Barrier,
    results: multiprocessing.Queue[Tally | str],
) -> None:
    """One load-generating process: its tenants, its share of the connections."""
    try:
        start.wait(timeout=60)
        results.put(asyncio.run(drive(tenants, connections, seconds)))
    except BaseException as error:
        results.put(f"a client process failed: {error!r}")
        raise
