"""Load without loss: a mixed workload against `relay serve --workers 4` on PostgreSQL.

80 % dataset reads, 15 % dataset creates and deletes, 5 % key creates and revokes,
across 20 tenants, from 64 concurrent connections. Some reads deliberately reuse
keys whose revoke was already acknowledged. Fails (exit 1) on any 5xx, any
acknowledged create missing at the end, any acknowledged delete still there, or
any request accepted with a key after its revoke was acknowledged.

    .venv/bin/python bench/load.py                 # 60 s
    .venv/bin/python bench/load.py --seconds 10    # the short run in .ci/run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    created: dict[str, Tenant] = field(default_factory=dict)
    deleted: dict[str, Tenant] = field(default_factory=dict)
    revoked: dict[str, float] = field(default_factory=dict)  # key -> when its 204 came
    late_acceptances: int = 0
    revoked_key_uses: int = 0


def relay(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [RELAY, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


async def timed(tally: Tally, request: asyncio.Future[httpx.Response] | object) -> httpx.Response:
    started = time.perf_counter()
    response: httpx.Response = await request  # type: ignore[misc]
    tally.latencies.append(time.perf_counter() - started)
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
                    tally, client.get("/api/v1/datasets", headers={"X-API-Key": key})
                )
                tally.revoked_key_uses += 1
                if response.is_success and sent > tally.revoked[key]:
                    tally.late_acceptances += 1
            else:
                headers = {"X-API-Key": tenant.any_key()}
                await timed(tally, client.get("/api/v1/datasets", headers=headers))
        elif roll < 0.875:
            body = {"name": f"load {random.getrandbits(32)}"}
            response = await timed(
                tally,
                client.post("/api/v1/datasets", json=body, headers={"X-API-Key": tenant.admin_key}),
            )
            if response.status_code == 201:
                tenant.datasets.append(response.json()["id"])
                tally.created[response.json()["id"]] = tenant
        elif roll < 0.95:
            if not tenant.datasets:
                continue
            dataset_id = tenant.datasets.pop(random.randrange(len(tenant.datasets)))
            response = await timed(
                tally,
                client.delete(
                    f"/api/v1/datasets/{dataset_id}", headers={"X-API-Key": tenant.admin_key}
                ),
            )
            if response.status_code == 204:
                tally.deleted[dataset_id] = tenant
        elif roll < 0.975:
            response = await timed(
                tally,
                client.post(
                    "/api/v1/auth/api-keys",
                    json={"name": "load"},
                    headers={"X-API-Key": tenant.admin_key},
                ),
            )
            if response.status_code == 201:
                tenant.extra_keys[response.json()["key"]] = response.json()["id"]
        elif tenant.extra_keys:
            key = random.choice(list(tenant.extra_keys))
            key_id = tenant.extra_keys.pop(key)
            response = await timed(
                tally,
                client.delete(
                    f"/api/v1/auth/api-keys/{key_id}", headers={"X-API-Key": tenant.admin_key}
                ),
            )
            if response.status_code == 204:
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


async def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    tenants = []
    for number in range(args.tenants):
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
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    tally = Tally()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}", limits=limits, timeout=30
    ) as client:
        await wait_until_up(client)
        started = time.monotonic()
        stop_at = started + args.seconds
        await asyncio.gather(
            *(worker(client, tenants, tally, stop_at) for _ in range(args.connections))
        )
        elapsed = time.monotonic() - started
        problems = await verify(client, tally)

    total = sum(tally.statuses.values())
    latencies = sorted(tally.latencies)
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    print(
        f"cores: {os.cpu_count()}  relay serve --workers {args.workers} on PostgreSQL, "
        f"{args.connections} connections, {args.tenants} tenants, {elapsed:.0f} s"
    )
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99)]
    print(
        f"requests: {total:,}  ({total / elapsed:,.0f} per second)  "
        f"p50 {p50 * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms"
    )
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    print(
        f"datasets created {len(tally.created)}, deleted {len(tally.deleted)}; "
        f"keys revoked {len(tally.revoked)}, revoked keys tried {tally.revoked_key_uses}, "
        f"accepted after their revoke {tally.late_acceptances}"
    )
    failures = problems[:10]
    if server_errors:
        failures.append(f"{server_errors} responses were 5xx")
    if tally.late_acceptances:
        failures.append(f"{tally.late_acceptances} requests accepted after their key's revoke")
    for failure in failures:
        print(f"FAILED: {failure}")
    print("no loss: every acknowledged write is as acknowledged" if not failures else "")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default="relay_bench_load")
    args = parser.parse_args()

    database_url = asyncio.run(recreate_database(args.database, args.admin_url))
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        # All the simulated clients share 127.0.0.1, and some present revoked keys
        # on purpose: lift the per-address failure limit for this run.
        "RELAY_AUTH_FAILURE_LIMIT": "1000000",
    }
    relay(env, "db", "upgrade")
    server = subprocess.Popen(
        [RELAY, "serve", "--no-migrate", "--workers", str(args.workers), "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = asyncio.run(run(args, env))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    sys.exit(code)


if __name__ == "__main__":
    main()
