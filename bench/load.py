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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from benchlib import ADMIN_URL, recreate_database, wait_until_up
from loadgen import PORT, Tally, Tenant, client_process, http_client

RELAY = str(Path(sys.executable).with_name("relay"))


def relay(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [RELAY, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


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


def print_server_complaints(log: Path, limit: int = 20) -> None:
    """The servers' warnings and errors (a 5xx is logged with its cause), the last few."""
    complaints = [
        line
        for line in log.read_text().splitlines()
        if '"level": "warning"' in line or '"level": "error"' in line or "Traceback" in line
    ]
    print(f"the servers logged {len(complaints)} warnings and errors; the last {limit}:")
    for line in complaints[-limit:]:
        print(f"  {line}")


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
    # Kept even without --server-log: a failed run prints what the servers said.
    log = args.server_log or Path(tempfile.mkstemp(prefix="relay-load-", suffix=".log")[1])
    server = subprocess.Popen(
        [RELAY, "serve", "--no-migrate", "--workers", str(args.workers), "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
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
    if code:
        print_server_complaints(log)
    if not args.server_log:
        log.unlink()
    sys.exit(code)


if __name__ == "__main__":
    main()
