"""Load without loss: a mixed workload against `relay serve --workers 4` on PostgreSQL.

80 % dataset reads, 15 % dataset creates and deletes, 5 % key creates and revokes,
across 20 tenants, from 64 concurrent connections. Some reads deliberately reuse
keys whose revoke was already acknowledged. Fails (exit 1) on any 5xx, any request
left without a response, any acknowledged create missing at the end, any
acknowledged delete still there, or any request accepted with a key after its
revoke was acknowledged.

The connections are shared among several client processes (`--clients`), each
with its own tenants: one Python process driving 64 connections with httpx uses a
whole core and becomes the bottleneck, its requests queueing before they are even
written. `--server-log` keeps the servers' access log and splits each wait into
its parts: in the client, on the way, in the handler, and back.

    .venv/bin/python bench/load.py                 # 60 s
    .venv/bin/python bench/load.py --seconds 10    # the short run in .ci/run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchlib import ADMIN_URL, recreate_database, wait_until_up

RELAY = str(Path(sys.executable).with_name("relay"))
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


def relay(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [RELAY, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


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


async def verify(client: httpx.AsyncClient, tally: Tally) -> list[str]:
    """Every acknowledged create still there (unless deleted), every acknowledged delete gone."""
    problems = []
    for dataset_id, tenant in tally.created.items():
        status = (
            await client.get(
                f"/api/v1/datasets/{dataset_id}", headers={"X-API-Key": tenant.admin_key}
            )
        ).status_code
        expected = 404 if dataset_id in tally.deleted else 200
        if status != expected:
            problems.append(f"dataset {dataset_id}: {status}, expected {expected}")
    return problems


async def watch_loop_lag(lags: list[float], stop_at: float) -> None:
    """How late this client's own event loop wakes up: queueing on our side, not Relay's."""
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


def percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99)]
    return f"p50 {p50 * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms  max {ordered[-1] * 1000:.1f} ms"


def create_tenants(env: dict[str, str], count: int) -> list[Tenant]:
    tenants = []
    for number in range(count):
        created = json.loads(
            relay(
                env,
                "tenants",
                "create",
                "--name",
                f"load {number}",
                "--email",
                f"load-{number}-{time.time_ns()}@example.com",
                "--password",
                "load test password",
                "--json",
            )
        )
        tenants.append(Tenant(admin_key=created["api_key"]))
    return tenants


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


def generate_load(args: argparse.Namespace, tenants: list[Tenant]) -> Tally:
    """Run the client processes together; their tallies, added up."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(args.clients)
    results: multiprocessing.Queue[Tally | str] = context.Queue()
    processes = [
        context.Process(
            target=client_process,
            args=(
                tenants[number :: args.clients],
                args.connections // args.clients + (number < args.connections % args.clients),
                args.seconds,
                start,
                results,
            ),
        )
        for number in range(args.clients)
    ]
    for process in processes:
        process.start()
    tally = Tally()
    try:
        for _ in processes:
            result = results.get(timeout=args.seconds + 120)
            if isinstance(result, str):
                raise RuntimeError(result)
            tally.add(result)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return tally


async def server_up() -> None:
    async with http_client(connections=1) as client:
        await wait_until_up(client)


async def verify_with_fresh_client(tally: Tally) -> list[str]:
    async with http_client(connections=8) as client:
        return await verify(client, tally)


def report(args: argparse.Namespace, tally: Tally, problems: list[str]) -> int:
    total = sum(tally.statuses.values())
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    elapsed = tally.elapsed
    print(
        f"cores: {os.cpu_count()}  relay serve --workers {args.workers} on PostgreSQL, "
        f"{args.connections} connections from {args.clients} client processes, "
        f"{args.tenants} tenants, {elapsed:.0f} s"
    )
    every = [seconds for latencies in tally.latencies.values() for seconds in latencies]
    print(f"requests: {total:,}  ({total / elapsed:,.0f} per second)  {percentiles(every)}")
    for operation, latencies in sorted(tally.latencies.items()):
        print(f"  {operation:<18} {len(latencies):>7,}  {percentiles(latencies)}")
    print(f"the clients' event loops, late by: {percentiles(tally.loop_lags)}")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    print(
        f"datasets created {len(tally.created)}, deleted {len(tally.deleted)}; "
        f"keys revoked {len(tally.revoked)}, revoked keys tried {tally.revoked_key_uses}, "
        f"accepted after their revoke {tally.late_acceptances}"
    )
    failures = problems[:10]
    if server_errors:
        failures.append(f"{server_errors} responses were 5xx")
    for failure, count in sorted(tally.transport_errors.items()):
        failures.append(f"{count} requests failed without a response ({failure})")
    if tally.late_acceptances:
        failures.append(f"{tally.late_acceptances} requests accepted after their key's revoke")
    for failure in failures:
        print(f"FAILED: {failure}")
    print("no loss: every acknowledged write is as acknowledged" if not failures else "")
    return 1 if failures else 0


def print_server_timings(log: Path, tally: Tally) -> None:
    """Time inside the servers' handlers by route, and where the waits went."""
    durations: dict[str, list[float]] = {}
    handled: dict[str, tuple[float, float]] = {}  # request id -> (handler start, end)
    for line in log.read_text().splitlines():
        if '"duration_ms"' not in line:
            continue
        entry = json.loads(line)
        seconds = entry["duration_ms"] / 1000
        durations.setdefault(f"{entry['method']} {entry['route']}", []).append(seconds)
        ended = datetime.fromisoformat(entry["time"]).timestamp()
        handled[entry["request_id"]] = (ended - seconds, ended)
    print("inside the servers' handlers:")
    for operation, latencies in sorted(durations.items()):
        print(f"  {operation:<36} {len(latencies):>7,}  {percentiles(latencies)}")

    # Split each wait: in this client until it wrote the request (its connection pool,
    # its event loop), on the way until the handler started (the socket, the server's
    # event loop), in the handler, and after it until the client had the answer.
    # The log's clock has millisecond resolution.
    waits = sorted(
        (
            tally.answered_at[request_id] - sent,
            tally.written_at[request_id] - sent,
            handled[request_id][0] - tally.written_at[request_id],
            handled[request_id][1] - handled[request_id][0],
            tally.answered_at[request_id] - handled[request_id][1],
        )
        for request_id, sent in tally.sent_at.items()
        if request_id in handled
        and request_id in tally.answered_at
        and request_id in tally.written_at
    )
    for label, share in (("all requests", waits), ("the slowest 1 %", waits[-len(waits) // 100 :])):
        client, transit, inside, after = (
            statistics.mean(wait[part] for wait in share) for part in (1, 2, 3, 4)
        )
        print(
            f"{label} ({len(share):,}, mean {statistics.mean(w[0] for w in share) * 1000:.0f} ms): "
            f"{client * 1000:.0f} ms in this client before the request was written, "
            f"{transit * 1000:.1f} ms from there to the handler, {inside * 1000:.1f} ms in it, "
            f"{after * 1000:.1f} ms back to the client"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="load-generating processes")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default="relay_bench_load")
    parser.add_argument(
        "--server-log",
        type=Path,
        help="keep the servers' access log here and print their own timings beside the client's",
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= min(args.tenants, args.connections):
        parser.error("--clients must be between 1 and the number of tenants and connections")

    database_url = asyncio.run(recreate_database(args.database, args.admin_url))
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "info" if args.server_log else "warning",
        # All the simulated clients share 127.0.0.1, and some present revoked keys
        # on purpose: lift the per-address failure limit for this run.
        "RELAY_AUTH_FAILURE_LIMIT": "1000000",
    }
    relay(env, "db", "upgrade")
    server = subprocess.Popen(
        [RELAY, "serve", "--no-migrate", "--workers", str(args.workers), "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=args.server_log.open("w") if args.server_log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        tenants = create_tenants(env, args.tenants)
        asyncio.run(server_up())
        tally = generate_load(args, tenants)
        code = report(args, tally, asyncio.run(verify_with_fresh_client(tally)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    if args.server_log:
        print_server_timings(args.server_log, tally)
    sys.exit(code)


if __name__ == "__main__":
    main()
