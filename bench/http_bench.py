"""GET /api/v1/datasets under wrk, in interleaved rounds: Relay with a full-access key,
with a scoped key (datasets:read), with a key whose rate limit lives in Redis (set
high enough never to trip: 100,000 per second), with a key with a daily quota (counted
in the database, leased by each worker, a billion a day), with a key with every control
(scopes, its tenant's datasets chosen, an address allowlist, a Redis rate limit, a daily
quota, and a limit pool with a Redis rate limit and a monthly quota, none of them
tripping), Relay with its key check replaced by a constant principal (its ceiling)
and, with --peers, drf-api-key and the naive FastAPI peer of ../shared/bench-peers.

    .venv/bin/python bench/http_bench.py --peers               # 5 rounds, about 8 min
    .venv/bin/python bench/http_bench.py --rounds 2 --seconds 4  # Relay and its ceiling only
    .venv/bin/python bench/http_bench.py --candidates  # granian, PostgreSQL's Unix socket
    .venv/bin/python bench/http_bench.py --against HEAD~1  # and Relay as of a revision

--peers adds FastAPI's constant-JSON endpoint (no key, no database: the framework's own
limit on this machine). --candidates needs granian (.venv/bin/pip install granian).

All servers stay up for the whole run and are measured in turn, each round starting
one server further along (A B C D, B C D A, C D A B, ...), each with the same warm-up
right before its measured run, so a slow minute of this shared machine hits every
server alike, and no server always follows the same one (the first after a peer paid
for PostgreSQL's work after that peer: 1.1 ms of CPU a request against 0.8). Each round
gives ratios (Relay's req/s over each other's); the run reports their median and minimum
over the rounds.

PostgreSQL on 127.0.0.1:5432; the database --database is recreated. Every server runs
2 workers. Needs wrk (python tools/provision.py wrk). The peers' virtualenvs and
databases come from their run.sh (which it calls with an empty selection).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchlib import ROOT, cpu_split, drop_database, recreate_database, serving, wrk
from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.schemas import ApiKeyCreate, Quota, RateLimit
from relay.config import Settings
from relay.datasets import service as datasets_service
from relay.datasets.schemas import DatasetCreate
from relay.db import Database
from relay.limit_pools import service as pools_service
from relay.limit_pools.schemas import LimitPoolCreate
from relay.migrations import upgrade_database
from relay.tenants.models import Tenant

BIN = Path(sys.executable).parent
PEERS = ROOT.parent / "shared" / "bench-peers"
# Where the peers' run.sh keeps its venvs and data (its own default).
PEER_WORK = Path(os.environ.get("BENCH_WORK", "/tmp/bench-peers"))  # noqa: S108
PEER_RUNS = {
    "drf-api-key (docs pattern, gunicorn sync w2)": "drf/gunicorn sync w2/pg/docs",
    "naive FastAPI (uvicorn w2)": "fastapi/uvicorn w2/pg/naive",
    # FastAPI's own limit on this machine: a constant 10-item list, no key, no database.
    "FastAPI constant JSON (uvicorn w2)": "fastapi/uvicorn w2/-/const",
}
PATH = "/api/v1/datasets"
REDIS_URL = "redis://127.0.0.1:6379/0"
PG_SOCKET_DIR = "/var/run/postgresql"  # Debian's
RELAY_VARIANTS = 5  # the first servers: Relay with each kind of key
FIRST_PORT = 18091


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    key: str | None
    cwd: Path = ROOT
    runs: list[dict[str, float]] = field(default_factory=list)


KEY_KINDS = {
    "full": ApiKeyCreate(name="bench"),
    "scoped": ApiKeyCreate(name="bench, read only", scopes=["datasets:read"]),
    "limited": ApiKeyCreate(
        name="bench, rate limited", rate_limit=RateLimit(requests=100_000, per_seconds=1)
    ),
    # Counted in the database whether Redis is configured or not (leases of units).
    "metered": ApiKeyCreate(
        name="bench, daily quota", quota=Quota(requests=1_000_000_000, period="day")
    ),
}


async def seed(settings: Settings) -> tuple[str, str, dict[str, str]]:
    """One tenant with 10 datasets; returns (tenant id, the full-access key's id,
    {key kind: API key})."""
    database = Database(settings)
    async with database.sessionmaker.begin() as session:
        tenant = Tenant(name="bench")
        session.add(tenant)
        await session.flush()
        keys, key_ids = {}, {}
        datasets = [
            await datasets_service.create_dataset(
                session,
                reach=datasets_service.Reach(tenant.id),
                data=DatasetCreate(name=f"Dataset {number}", description="bench"),
                actor=SYSTEM,
            )
            for number in range(10)
        ]
        pool = await pools_service.create_pool(
            session,
            tenant_id=tenant.id,
            data=LimitPoolCreate(
                name="bench pool",
                rate_limit=RateLimit(requests=100_000, per_seconds=1),
                quota=Quota(requests=1_000_000_000, period="month"),
            ),
            actor=SYSTEM,
        )
        governed = ApiKeyCreate(
            name="bench, every control",
            scopes=["datasets:read"],
            rate_limit=RateLimit(requests=100_000, per_seconds=1),
            quota=Quota(requests=1_000_000_000, period="day"),
            dataset_ids=[dataset.id for dataset in datasets],
            allowed_ips=["127.0.0.0/8"],
            pool_id=pool.id,
        )
        for kind, data in (KEY_KINDS | {"governed": governed}).items():
            row, keys[kind] = await auth_service.create_api_key(
                session, tenant_id=tenant.id, data=data, actor=SYSTEM, created_by=None
            )
            key_ids[kind] = str(row.id)
        tenant_id = str(tenant.id)
    await database.dispose()
    return tenant_id, key_ids["full"], keys


def relay_servers(
    database_url: str, tenant_id: str, key_id: str, keys: dict[str, str]
) -> list[Server]:
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_BENCH_TENANT_ID": tenant_id,
        # The ceiling answers as the full-access key, so its uses are recorded as
        # that key's (a made-up key id made every usage write fail).
        "RELAY_BENCH_KEY_ID": key_id,
    }
    # As an operator runs it; the ceiling is served by the same code (relay.serving).
    app = [str(BIN / "relay"), "serve", "--no-migrate", "--workers", "2"]
    ceiling = [str(BIN / "python"), str(ROOT / "bench" / "fixed_principal_app.py")]
    ceiling += ["--workers", "2"]
    # Every Relay server alike, one per kind of key: only the rate-limited keys use
    # Redis. The ceiling is configured alike, so that it differs from Relay in the key
    # check alone.
    relay = env | {"RELAY_REDIS_URL": REDIS_URL}
    return [
        Server("Relay, full-access key", app, relay, keys["full"]),
        Server("Relay, scoped key (datasets:read)", app, relay, keys["scoped"]),
        Server("Relay, key with a Redis rate limit", app, relay, keys["limited"]),
        Server("Relay, key with a daily quota", app, relay, keys["metered"]),
        Server("Relay, key with every control", app, relay, keys["governed"]),
        Server(
            "Relay, key check replaced (ceiling)",
            ceiling,
            relay,
            None,
        ),
    ]


def candidate_servers(database_url: str, keys: dict[str, str]) -> list[Server]:
    """Relay's app on another ASGI server (granian: Rust HTTP, uvloop; 2 workers), and
    `relay serve` reaching PostgreSQL over its Unix socket instead of TCP on loopback."""
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_REDIS_URL": REDIS_URL,
    }
    granian = [str(BIN / "granian"), "--interface", "asgi", "--loop", "uvloop"]
    granian += ["--workers", "2", "--no-access-log", "--log-level", "warning"]
    granian += ["--host", "127.0.0.1", "--port", "0", "granian_app:app"]
    database = database_url.rsplit("/", 1)[1]
    over_socket = f"postgresql://postgres@/{database}?host={PG_SOCKET_DIR}"
    relay = [str(BIN / "relay"), "serve", "--no-migrate", "--workers", "2"]
    return [
        Server(
            "Relay on granian, full-access key",
            granian,
            env | {"PYTHONPATH": str(ROOT / "bench")},
            keys["full"],
        ),
        Server(
            "Relay, PostgreSQL over its Unix socket",
            relay,
            env | {"RELAY_DATABASE_URL": over_socket},
            keys["full"],
        ),
    ]


def revision_server(revision: str, tree: Path, database_url: str, key: str) -> Server:
    """`relay serve` as of `revision`, checked out in `tree` (a git worktree)."""
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(tree / "src"),
    }
    serve = [str(BIN / "python"), "-c", "from relay.cli import main; main()", "serve"]
    serve += ["--no-migrate", "--workers", "2"]
    return Server(f"Relay at {revision}, full-access key", serve, env, key, cwd=tree)


def peer_servers() -> list[Server]:
    """The two peers, as the peers' own driver would start them (venvs and data from
    their run.sh, which is asked to benchmark nothing)."""
    # It fails at the end, having nothing to report; what is needed (venvs, seeded
    # databases, the key files build_matrix reads) is done by then.
    subprocess.run(
        ["bash", str(PEERS / "run.sh"), "--only", "^$"],
        env=os.environ | {"BENCH_KEEP_PG": "1"},
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spec = importlib.util.spec_from_file_location("peer_bench", PEERS / "lib" / "bench.py")
    assert spec is not None
    assert spec.loader is not None
    peer_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer_bench)
    pg = {"user": "bench", "password": "bench", "port": 5432}
    pg |= {"django_db": "bench_django", "fastapi_db": "bench_fastapi"}
    matrix = {run["name"]: run for run in peer_bench.build_matrix(PEER_WORK, 0, pg)}
    servers = []
    for name, run_name in PEER_RUNS.items():
        run = matrix[run_name]
        servers.append(
            Server(name, run["cmd"], os.environ | run["env"], run["key"], Path(run["cwd"]))
        )
    return servers


def on_port(server: Server, port: int) -> list[str]:
    """The server's command line with its port (the peers' matrix has port 0) set."""
    command = [part.replace("127.0.0.1:0", f"127.0.0.1:{port}") for part in server.command]
    if "--port" in command:
        command[command.index("--port") + 1] = str(port)
    elif not any(f"127.0.0.1:{port}" in part for part in command):
        command += ["--host", "127.0.0.1", "--port", str(port)]
    return command


def run_rounds(servers: list[Server], args: argparse.Namespace) -> None:
    with ExitStack() as running:
        started = []
        # Servers that differ only by the key they are sent share one process.
        processes: dict[tuple[str, ...], tuple[str, int]] = {}
        for server in servers:
            headers = {"X-API-Key": server.key} if server.key else {}
            identity = (*server.command, *sorted(f"{k}={v}" for k, v in server.env.items()))
            if identity not in processes:
                port = FIRST_PORT + len(processes)
                url = f"http://127.0.0.1:{port}{PATH}"
                process = running.enter_context(
                    serving(on_port(server, port), url, headers, server.env, server.cwd)
                )
                processes[identity] = (url, process.pid)
            url, group = processes[identity]
            started.append((url, headers, group))
        measured = list(zip(servers, started, strict=True))
        for round_number in range(1, args.rounds + 1):
            turn = (round_number - 1) % len(measured)
            for server, (url, headers, group) in measured[turn:] + measured[:turn]:
                wrk(url, seconds=args.warmup, connections=args.connections, headers=headers)
                # Let requests still queued in the server finish (sync workers).
                time.sleep(1)
                before = cpu_split(group)
                run = wrk(url, seconds=args.seconds, connections=args.connections, headers=headers)
                after = cpu_split(group)
                used = {part: after[part] - before[part] for part in after}
                # What the other sessions on this machine took, as a share of its cores.
                run["others"] = (
                    used["machine"] - used["server"] - used["postgres"] - used["wrk"]
                ) / (args.seconds * (os.cpu_count() or 1))
                # CPU per request, the server's and PostgreSQL's: what throughput would
                # be on a machine of its own, whatever the other sessions did meanwhile.
                requests = run["rps"] * args.seconds
                run["cpu_ms"] = 1000 * (used["server"] + used["postgres"]) / requests
                run["pg_ms"] = 1000 * used["postgres"] / requests
                server.runs.append(run)
                print(
                    f"round {round_number} {server.name:48} {run['rps']:8.0f} req/s  "
                    f"p50 {run['p50']:6.2f} ms  p99 {run['p99']:7.2f} ms  "
                    f"non-2xx {run['errors']:.0f}  CPU/request {run['cpu_ms']:.2f} ms "
                    f"(PostgreSQL {run['pg_ms']:.2f})  "
                    f"others' CPU {run['others']:4.0%}",
                    flush=True,
                )
                time.sleep(1)


def ratio_row(mine: Server, theirs: Server, label: str) -> str:
    """A table row: `mine`'s req/s over `theirs`, per round, and by CPU per request."""
    pairs = list(zip(mine.runs, theirs.runs, strict=True))
    ratios = [ours["rps"] / other["rps"] for ours, other in pairs]
    shown = " ".join(f"{ratio:.2f}" for ratio in ratios)
    efficiency = statistics.median(other["cpu_ms"] / ours["cpu_ms"] for ours, other in pairs)
    return (
        f"| {label} | {shown} | {statistics.median(ratios):.2f} | {min(ratios):.2f} "
        f"| {efficiency:.2f} |"
    )


def report(servers: list[Server], args: argparse.Namespace, started: datetime) -> None:
    relay = servers[0]
    print(
        f"\n{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load at start "
        f"{args.load:.2f}; wrk -t1 -c{args.connections} -d{args.seconds}s after {args.warmup} s "
        f"of warm-up, {args.rounds} interleaved rounds, PostgreSQL, 2 workers each\n"
    )
    print(
        "| server | req/s (median) | min-max | p50 ms | p99 ms | non-2xx "
        "| CPU ms per request | of which PostgreSQL | others' CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for server in servers:
        rps = [run["rps"] for run in server.runs]
        print(
            f"| {server.name} | {statistics.median(rps):,.0f} | {min(rps):,.0f}-{max(rps):,.0f} "
            f"| {statistics.median(r['p50'] for r in server.runs):.1f} "
            f"| {statistics.median(r['p99'] for r in server.runs):.1f} "
            f"| {sum(r['errors'] for r in server.runs):.0f} "
            f"| {statistics.median(r['cpu_ms'] for r in server.runs):.2f} "
            f"| {statistics.median(r['pg_ms'] for r in server.runs):.2f} "
            f"| {statistics.median(r['others'] for r in server.runs):.0%} |"
        )
    ceiling = servers[RELAY_VARIANTS]
    columns = "| req/s ratio per round | median | minimum | CPU-per-request ratio |"
    print(
        "\n| over the ceiling | req/s ratio per round | median | minimum | CPU-per-request ratio |"
    )
    print("|---|---|---:|---:|---:|")
    for variant in servers[:RELAY_VARIANTS]:
        print(ratio_row(variant, ceiling, variant.name))
    print(f"\n| Relay (full-access key) over {columns}\n|---|---|---:|---:|---:|")
    for other in servers[RELAY_VARIANTS:]:
        print(ratio_row(relay, other, other.name))

    tails = [run["p99"] / run["p50"] for run in relay.runs]
    print(
        f"\nRelay's p99 / p50 per round: {' '.join(f'{t:.1f}' for t in tails)} "
        f"(median {statistics.median(tails):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="relay_scale_http")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--peers", action="store_true", help="also drf-api-key, naive FastAPI and constant JSON"
    )
    parser.add_argument(
        "--candidates",
        action="store_true",
        help="also Relay's app on granian (the ASGI server measured against uvicorn)",
    )
    parser.add_argument("--against", metavar="REVISION", help="also Relay as of REVISION")
    args = parser.parse_args()
    # Stopped (SIGTERM), it still stops its servers and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.load = os.getloadavg()[0]
    tree = Path(f"/tmp/relay-http-bench-{os.getpid()}")  # noqa: S108
    started = datetime.now(UTC)

    database_url = asyncio.run(recreate_database(args.database))
    settings = Settings(database_url=database_url)
    upgrade_database(settings)
    tenant_id, key_id, keys = asyncio.run(seed(settings))
    try:
        servers = relay_servers(database_url, tenant_id, key_id, keys)
        if args.candidates:
            servers += candidate_servers(database_url, keys)
        if args.against:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    "-q",
                    str(tree),
                    args.against,
                ],
                check=True,
            )
            servers.append(revision_server(args.against, tree, database_url, keys["full"]))
        if args.peers:
            servers += peer_servers()
        run_rounds(servers, args)
    finally:
        asyncio.run(drop_database(args.database))
        if args.against:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
    report(servers, args, started)


if __name__ == "__main__":
    main()
