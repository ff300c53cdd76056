"""Soak: a long run at saturation, to show that the server's memory stays flat and that
nothing is answered with a 5xx (issue 25, part 6).

`relay serve --workers 2` on PostgreSQL (the database --database, recreated, dropped at
the end), seeded through Relay's service functions (--tenants tenants, each with 10
datasets, 5 keys to read with and one to manage with), is driven for --minutes by two
generators at once (soak_load.py):

- wrk with bench/soak.lua (one thread, --connections connections): the bulk. Dataset
  list reads with live keys (each must get 200) and, --bad-share of the time, requests
  that must get 401: made-up keys of the right shape and checksum, malformed ones,
  none, two at once.
- a small Python process (--writers loops, a connection each): the state. Datasets
  created, changed and deleted (about as many deleted as created), keys created, used
  (each use must get 200) and revoked, each revoked key presented again at once and
  then for 15 s after its revoke's 204 (each time: 401).

Every --sample-every seconds it reads from /proc the resident memory (RSS), open file
descriptors and threads of the supervisor and of each worker, and the CPU used by the
server, PostgreSQL, the two generators and everything else on this shared machine.

It prints requests per minute by status class, throughput, 5xx, unexpected statuses (a
live key refused, a revoked key accepted after its revoke's 204, any status other than
the one the request must get), each process's RSS at 1 minute and at the end, and a
verdict per target (soak_report.py); exit status 1 when one is missed.

"Flat" is: no process grew by more than 10 MiB after the first minute. An absolute
bound rather than a share: a worker's RSS moves by a few MiB with no leak at all
(pymalloc arenas and glibc's heap are returned, or not, in chunks), whatever its size,
while a leak grows with the requests served; the run prints what the bound comes to in
bytes per request. The first minute is left out: caches fill (keys, the 60 s window of
failed authentications), pools open, the allocator settles. A bounded table that fills
more slowly still shows as growth: each worker's cache of unknown keys keeps up to 10,000
digests (about 2.5 MiB), expired or not, until newer ones push them out, and at this
mix's share of made-up and revoked keys it fills in about half an hour.

Every request comes from 127.0.0.1, so two per-address defences are lifted for the run:
the limit on failed authentications (30 a minute; the refused requests would be 429
after the 30th) and the cap on connections still sending their request (20 per worker,
counted from a connection's opening: wrk opens its 64 at once, and a worker that accepts
many before their first bytes are read closes those past the cap; a first run with the
cap lost 10 requests so, as read errors, and none of the runs without it lost any).

With --commit, the code served (and seeding it) is that commit's src/, from `git
archive` into a temporary folder, not the working tree (shared, and edited meanwhile).

    .venv/bin/python bench/soak.py --minutes 10 --commit HEAD
    .venv/bin/python bench/soak.py --minutes 2 --json /tmp/soak.json --server-log /tmp/soak.log

PostgreSQL on 127.0.0.1:5432 (--redis: Redis on 127.0.0.1:6379 too, for the failure
counts); wrk (python tools/provision.py wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import ROOT, drop_database, recreate_database, serving
from relay.actors import SYSTEM
from relay.auth import keys as key_format
from relay.auth import service as auth_service
from relay.auth.schemas import ApiKeyCreate
from relay.config import Settings
from relay.datasets import service as datasets_service
from relay.datasets.schemas import DatasetCreate
from relay.db import Database
from relay.migrations import upgrade_database
from relay.tenants.models import Tenant
from soak_load import Clock, Tally, read_wrk, stateful_generator
from soak_report import Sampler, report, server_complaints

RELAY = str(Path(sys.executable).with_name("relay"))
LUA = Path(__file__).with_name("soak.lua")
REDIS_URL = "redis://127.0.0.1:6379/0"
# Set by a run with --commit for the run it starts: what it serves.
SOURCE_VARIABLE = "RELAY_SOAK_SOURCE"


@dataclass
class Seeded:
    read_keys: list[str]
    admin_keys: list[str]


async def seed(settings: Settings, tenants: int) -> Seeded:
    database = Database(settings)
    seeded = Seeded([], [])
    async with database.sessionmaker.begin() as session:
        for number in range(tenants):
            tenant = Tenant(name=f"soak {number}")
            session.add(tenant)
            await session.flush()
            for dataset in range(10):
                await datasets_service.create_dataset(
                    session,
                    reach=datasets_service.Reach(tenant.id),
                    data=DatasetCreate(name=f"Dataset {dataset}", description="soak"),
                    actor=SYSTEM,
                )
            for purpose, wanted in (("read", 5), ("admin", 1)):
                for _ in range(wanted):
                    _, key = await auth_service.create_api_key(
                        session,
                        tenant_id=tenant.id,
                        data=ApiKeyCreate(name=f"soak {purpose}"),
                        actor=SYSTEM,
                        created_by=None,
                    )
                    (seeded.read_keys if purpose == "read" else seeded.admin_keys).append(key)
    await database.dispose()
    return seeded


def run_load(args: argparse.Namespace, group: int, seeded: Seeded, folder: Path) -> dict[str, Any]:
    """Both generators at once for the run's length, sampling meanwhile."""
    url = f"http://127.0.0.1:{args.port}"
    good, madeup = folder / "good-keys", folder / "madeup-keys"
    good.write_text("\n".join(seeded.read_keys) + "\n")
    # Never stored; 100,000 of them, so that the same one comes back seldom (and, after
    # the 5 s an unknown key is remembered, goes to the database again).
    madeup.write_text("\n".join(key_format.generate_key() for _ in range(100_000)) + "\n")
    clock = Clock(time.time() + 2, args.minutes)  # the writer's process starts meanwhile
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Tally | str] = context.Queue()
    writer = context.Process(
        target=stateful_generator, args=(url, seeded.admin_keys, args.writers, clock, results)
    )
    writer.start()
    time.sleep(max(0.0, clock.start - time.time()))
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.minutes * 60}s", "--timeout", "30s"]
    wrk_env = os.environ | {
        "RELAY_SOAK_GOOD_KEYS": str(good),
        "RELAY_SOAK_MADEUP_KEYS": str(madeup),
        "RELAY_SOAK_BAD_SHARE": str(args.bad_share),
    }
    wrk = subprocess.Popen(
        [*command, "-s", str(LUA), url], stdout=subprocess.PIPE, text=True, env=wrk_env
    )
    assert wrk.stdout is not None
    wrk_tally, wrk_summary = Tally(), dict[str, float]()
    reader = threading.Thread(target=read_wrk, args=(wrk.stdout, clock, wrk_tally, wrk_summary))
    reader.start()
    sampler = Sampler(group, {"wrk": wrk.pid, "writer": writer.pid or 0}, clock)
    # Every sample_every seconds, and a last one a second before the load stops (after
    # it, the generators' connections are gone and wrk's CPU no longer readable).
    times = [n * args.sample_every for n in range(int(args.minutes * 60 / args.sample_every))]
    for at in [*times, args.minutes * 60 - 1]:
        time.sleep(max(0.0, clock.start + at - time.time()))
        sampler.sample()
    wrk.wait()
    reader.join()
    written = results.get(timeout=120)
    writer.join(timeout=30)
    if isinstance(written, str):
        raise RuntimeError(written)
    if wrk.returncode != 0 or "requests" not in wrk_summary:
        raise RuntimeError(f"wrk failed (exit status {wrk.returncode})")
    return {"wrk": wrk_tally, "writer": written, "summary": wrk_summary, "sampler": sampler}


def git(*command: str) -> str:
    return subprocess.run(
        ["git", *command], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def source() -> str:
    """What is served: the commit and, from the working tree, which files of src/ differ."""
    if SOURCE_VARIABLE in os.environ:
        return os.environ[SOURCE_VARIABLE]
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    commit = git("rev-parse", "--short", "HEAD").strip()
    return f"{commit} + uncommitted {', '.join(changed)}" if changed else commit


def run_commit(commit: str, argv: list[str]) -> int:
    """This script again, with `argv`, serving `commit`'s src/ (git archive) instead of
    the working tree's: PYTHONPATH comes before the editable install's path."""
    commit = git("rev-parse", "--short", commit).strip()
    with tempfile.TemporaryDirectory(prefix="relay-soak-src-") as folder:
        archive = subprocess.run(
            ["git", "archive", commit, "src"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        env = os.environ | {
            "PYTHONPATH": f"{folder}/src",
            SOURCE_VARIABLE: f"{commit} (git archive, not the working tree)",
        }
        return subprocess.run([sys.executable, __file__, *argv], env=env, check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64, help="wrk's")
    parser.add_argument("--writers", type=int, default=8, help="loops of the stateful generator")
    parser.add_argument("--bad-share", type=float, default=0.1, help="of wrk's requests")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    parser.add_argument("--port", type=int, default=18610)
    parser.add_argument("--database", default="relay_soak")
    parser.add_argument("--redis", action="store_true", help="failure counts in Redis")
    parser.add_argument("--commit", help="serve this commit's src/, not the working tree's")
    parser.add_argument("--json", type=Path, help="write the figures and every sample here")
    parser.add_argument("--server-log", type=Path, help="keep the server's log here")
    args = parser.parse_args()
    if args.commit:
        argv = sys.argv[1:]
        at = next(n for n, arg in enumerate(argv) if arg.startswith("--commit"))
        del argv[at : at + (1 if "=" in argv[at] else 2)]
        sys.exit(run_commit(args.commit, argv))
    header = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (shared), load at "
        f"start {os.getloadavg()[0]:.2f}, source {source()}: relay serve --workers "
        f"{args.workers} on PostgreSQL{' and Redis' if args.redis else ''}, {args.minutes} min; "
        f"wrk -t1 -c{args.connections} ({args.bad_share:.0%} bad keys) and {args.writers} "
        f"writer loops; {args.tenants} tenants"
    )
    database_url = asyncio.run(recreate_database(args.database))
    try:
        settings = Settings(database_url=database_url)
        upgrade_database(settings)
        seeded = asyncio.run(seed(settings, args.tenants))
        env = os.environ | {
            "RELAY_DATABASE_URL": database_url,
            "RELAY_LOG_LEVEL": "warning",
            "RELAY_LOG_FORMAT": "json",
            "RELAY_AUTH_FAILURE_LIMIT": "1000000000",
            "RELAY_MAX_HEADER_CONNECTIONS_PER_ADDRESS": "1000",
            "RELAY_REDIS_URL": REDIS_URL if args.redis else "",
        }
        command = [RELAY, "serve", "--no-migrate", "--workers", str(args.workers)]
        command += ["--port", str(args.port)]
        ready = f"http://127.0.0.1:{args.port}/api/v1/datasets"
        with tempfile.TemporaryDirectory(prefix="relay-soak-") as folder:
            log = args.server_log or Path(folder) / "server.log"
            with (
                log.open("wb") as log_file,
                serving(
                    command, ready, {"X-API-Key": seeded.read_keys[0]}, env, stderr=log_file
                ) as server,
            ):
                result = run_load(args, server.pid, seeded, Path(folder))
            complaints = server_complaints(log)
    finally:
        asyncio.run(drop_database(args.database))
    code, record = report(args, result, header, complaints)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=str))
    sys.exit(code)


if __name__ == "__main__":
    main()
