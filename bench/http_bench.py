"""GET /api/v1/datasets under wrk: Relay with a valid key against the same app with
its key check replaced by a constant principal, and optionally the peers of
../shared/bench-peers, all in one run.

    .venv/bin/python bench/http_bench.py            # Relay, and Relay without auth
    .venv/bin/python bench/http_bench.py --peers    # plus drf-api-key and the naive FastAPI peer

PostgreSQL on 127.0.0.1:5432 (user postgres); the database --database is recreated.
Both Relay servers run 2 uvicorn workers, like the peers. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchlib import recreate_database
from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.schemas import ApiKeyCreate
from relay.config import Settings
from relay.datasets import service as datasets_service
from relay.datasets.schemas import DatasetCreate
from relay.db import Database
from relay.migrations import upgrade_database
from relay.tenants.models import Tenant

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEERS = ROOT.parent / "shared" / "bench-peers"
PEER_RUNS = r"^(drf/gunicorn sync w2/pg/docs|fastapi/uvicorn w2/pg/naive)$"
PATH = "/api/v1/datasets"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


async def seed(settings: Settings) -> tuple[str, str]:
    """One tenant with 10 datasets; returns (tenant id, API key)."""
    database = Database(settings)
    async with database.sessionmaker.begin() as session:
        tenant = Tenant(name="bench")
        session.add(tenant)
        await session.flush()
        _, key = await auth_service.create_api_key(
            session,
            tenant_id=tenant.id,
            data=ApiKeyCreate(name="bench"),
            actor=SYSTEM,
            created_by=None,
        )
        for number in range(10):
            await datasets_service.create_dataset(
                session,
                tenant_id=tenant.id,
                data=DatasetCreate(name=f"Dataset {number}", description="bench"),
                actor=SYSTEM,
            )
        tenant_id = str(tenant.id)
    await database.dispose()
    return tenant_id, key


def wrk(url: str, key: str | None, seconds: int, connections: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    if key:
        command += ["-H", f"X-API-Key: {key}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def millis(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * _UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": millis(latency["50"]),
        "p99": millis(latency["99"]),
        "errors": float(bad.group(1)) if bad else 0.0,
    }


def measure(
    name: str, command: list[str], env: dict[str, str], key: str | None, args: argparse.Namespace
) -> dict[str, object]:
    port = 18090
    url = f"http://127.0.0.1:{port}{PATH}"
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(url, headers={"X-API-Key": key or ""}, timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.2)
        assert len(response.json()["items"]) == 10
        wrk(url, key, 3, args.connections)  # warm-up, thrown away
        runs = [wrk(url, key, args.seconds, args.connections) for _ in range(args.reps)]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    result: dict[str, object] = {"name": name}
    for field in ("rps", "p50", "p99", "errors"):
        result[field] = statistics.median(run[field] for run in runs)
    result["rps_range"] = (min(r["rps"] for r in runs), max(r["rps"] for r in runs))
    return result


def run_peers(args: argparse.Namespace) -> list[dict[str, object]]:
    out = Path(tempfile.mkdtemp(prefix="relay-peers-"))
    env = os.environ | {"BENCH_KEEP_PG": "1", "BENCH_OUT": str(out)}
    subprocess.run(
        [
            "bash",
            str(PEERS / "run.sh"),
            "--only",
            PEER_RUNS,
            "--reps",
            str(args.reps),
            "--duration",
            f"{args.seconds}s",
            "--conns",
            str(args.connections),
        ],
        env=env,
        check=False,  # run.sh may fail after writing its results (its "latest" link)
    )
    results = json.loads((out / "results.json").read_text())
    rows = results["results"] if isinstance(results, dict) else results
    return [
        {
            "name": row["name"],
            "rps": row["rps"],
            "p50": row["p50_us"] / 1000,
            "p99": row["p99_us"] / 1000,
            "errors": row.get("errors", 0),
            "rps_range": (row["rps_min"], row["rps_max"]),
        }
        for row in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="relay_bench_http")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--peers", action="store_true", help="also run the peers (a few minutes)")
    args = parser.parse_args()

    database_url = asyncio.run(recreate_database(args.database))
    settings = Settings(database_url=database_url)
    upgrade_database(settings)
    tenant_id, key = asyncio.run(seed(settings))
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_BENCH_TENANT_ID": tenant_id,
    }
    uvicorn = [
        str(BIN / "uvicorn"),
        "--factory",
        "--workers",
        "2",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    results = [
        measure("relay, valid X-API-Key", [*uvicorn, "relay.app:create_app"], env, key, args),
        measure(
            "relay, key check replaced (ceiling)",
            [*uvicorn, "--app-dir", "bench", "fixed_principal_app:create_app"],
            env,
            None,
            args,
        ),
    ]
    if args.peers:
        results += run_peers(args)

    print(
        f"\ncores: {os.cpu_count()}  wrk -t1 -c{args.connections} -d{args.seconds}s, "
        f"median of {args.reps}, PostgreSQL, 2 workers each"
    )
    print(f"{'server':45} {'req/s':>9} {'min-max':>15} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for row in results:
        low, high = row["rps_range"]  # type: ignore[misc]
        print(
            f"{row['name']!s:45} {row['rps']:9.0f} {low:7.0f}-{high:<7.0f} "
            f"{row['p50']:8.2f} {row['p99']:8.2f} {row['errors']:8.0f}"
        )
    relay_rps, ceiling_rps = results[0]["rps"], results[1]["rps"]
    print(f"relay / ceiling: {relay_rps / ceiling_rps:.3f}")  # type: ignore[operator]
    for peer in results[2:]:
        print(f"relay / {peer['name']}: {relay_rps / peer['rps']:.2f}")  # type: ignore[operator]


if __name__ == "__main__":
    main()
