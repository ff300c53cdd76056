"""How long after a revoke's 204 until every server refuses the key, on PostgreSQL.

Four `relay serve` processes share one PostgreSQL database, each with its own key
cache and its own LISTEN connection (the same as four workers of one server, but
each addressable by its port). For each of 50 rounds a new key is made, hammered
on all four until each has it cached, then revoked through the first; the figure
is, per round, the time from the 204 to the first refusal on the slowest server.
A request sent after the 204 and still accepted is counted as a late acceptance.

    .venv/bin/python bench/revocation.py [--rounds 50] [--servers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchlib import recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
RELAY = str(Path(sys.executable).with_name("relay"))
DATABASE = "relay_bench_revocation"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
FIRST_PORT = 18200


def start_servers(count: int) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {"RELAY_DATABASE_URL": DATABASE_URL, "RELAY_LOG_LEVEL": "warning"}
    subprocess.run([RELAY, "db", "upgrade"], env=env, check=True, capture_output=True)
    return [
        subprocess.Popen(
            [RELAY, "serve", "--no-migrate", "--port", str(FIRST_PORT + number)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for number in range(count)
    ]


def create_admin_key() -> str:
    env = os.environ | {"RELAY_DATABASE_URL": DATABASE_URL}
    out = subprocess.run(
        [
            RELAY,
            "tenants",
            "create",
            "--name",
            "bench",
            "--email",
            f"bench-{time.time_ns()}@example.com",
            "--password",
            "bench password",
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return str(json.loads(out)["api_key"])


async def hammer(
    client: httpx.AsyncClient,
    key: str,
    warm: asyncio.Event,
    state: dict[str, float | None],
    late: list[float],
) -> None:
    """Sends requests back to back until one is refused after the revoke."""
    headers = {"X-API-Key": key}
    while True:
        sent = time.monotonic()
        status = (await client.get("/api/v1/datasets", headers=headers)).status_code
        revoked_at = state["revoked_at"]
        if status == 200:
            warm.set()
            if revoked_at is not None and sent > revoked_at:
                late.append(sent - revoked_at)
        elif revoked_at is not None and sent > revoked_at:
            state["refused_after"] = time.monotonic() - revoked_at
            return


async def one_round(clients: list[httpx.AsyncClient], admin_key: str) -> tuple[float, int]:
    admin = {"X-API-Key": admin_key}
    created = (
        await clients[0].post("/api/v1/auth/api-keys", json={"name": "doomed"}, headers=admin)
    ).json()
    states: list[dict[str, float | None]] = [
        {"revoked_at": None, "refused_after": None} for _ in clients
    ]
    warm = [asyncio.Event() for _ in clients]
    late: list[float] = []
    tasks = [
        asyncio.create_task(hammer(client, created["key"], event, state, late))
        for client, event, state in zip(clients, warm, states, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in warm)), timeout=30)
    response = await clients[0].delete(f"/api/v1/auth/api-keys/{created['id']}", headers=admin)
    assert response.status_code == 204
    revoked_at = time.monotonic()
    for state in states:
        state["revoked_at"] = revoked_at
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    slowest = max(float(state["refused_after"] or 0.0) for state in states)
    return slowest, len(late)


async def measure(args: argparse.Namespace) -> None:
    admin_key = create_admin_key()
    clients = [
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{FIRST_PORT + number}", timeout=10)
        for number in range(args.servers)
    ]
    try:
        for client in clients:
            await wait_until_up(client)
        # Each server's LISTEN connection is up once /healthz answers and a second has passed.
        await asyncio.sleep(1.5)
        results = [await one_round(clients, admin_key) for _ in range(args.rounds)]
    finally:
        for client in clients:
            await client.aclose()
    delays = sorted(delay * 1000 for delay, _ in results)
    late = sum(count for _, count in results)
    print(
        f"cores: {os.cpu_count()}  servers: {args.servers} (one PostgreSQL)  rounds: {args.rounds}"
    )
    print(
        f"204 -> refused on every server: p50 {statistics.median(delays):.1f} ms, "
        f"p99 {delays[max(0, int(len(delays) * 0.99) - 1)]:.1f} ms, max {delays[-1]:.1f} ms"
    )
    print(f"requests sent after a 204 and still accepted: {late}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--servers", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(recreate_database(DATABASE))
    servers = start_servers(args.servers)
    try:
        asyncio.run(measure(args))
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
