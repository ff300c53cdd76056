"""Where a worker's time goes on the authenticated dataset list: py-spy samples one
worker of `relay serve --workers 2` (PostgreSQL) while wrk drives GET /api/v1/datasets
with a full-access key, then prints the share of samples spent in each layer (inclusive)
and writes a flame graph.

    .venv/bin/python bench/profile_hot_path.py                       # 20 s, docs/images/
    .venv/bin/python bench/profile_hot_path.py --seconds 10 --svg /tmp/flame.svg

Needs wrk (python tools/provision.py wrk) and py-spy (`.venv/bin/pip install py-spy`;
it reads the worker's memory, so it runs as the same user, or root). Sampling slows the
sampled worker a little (py-spy's --nonblocking keeps that small); the shares, not the
req/s, are the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from benchlib import ROOT, drop_database, recreate_database, serving, wrk
from http_bench import PATH, seed
from relay.config import Settings
from relay.migrations import upgrade_database

BIN = Path(sys.executable).parent
PORT = 18191

# Layers of a request, by the frames that enter them (a sample counts in every layer
# whose frame is on its stack). Order: outermost first.
LAYERS = {
    "uvicorn/httptools protocol (parse, write)": "httptools_impl.py",
    "Relay middleware (headers, limits, metrics)": "relay/middleware.py",
    "Starlette/FastAPI routing and dependencies": "fastapi/routing.py",
    "key check (relay.auth.verifier)": "relay/auth/verifier.py",
    "request's database session (relay.db)": "relay/db.py",
    "SQLAlchemy execute": "sqlalchemy/ext/asyncio/session.py",
    "asyncpg protocol": "asyncpg/",
    "dataset list (relay.datasets)": "relay/datasets/",
    "response encoding (pydantic, JSON)": "fastapi/encoders.py|pydantic/main.py|json/encoder.py",
}
# A sample whose innermost Python frame is asyncio's runner: uvloop (C) is waiting.
IDLE = "event loop waiting (nothing to run)"


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's workers (its children, but multiprocessing's resource tracker)."""
    out = subprocess.run(
        ["pgrep", "-P", str(supervisor)], capture_output=True, text=True, check=False
    ).stdout
    pids = [int(pid) for pid in out.split()]
    return [pid for pid in pids if b"resource_tracker" not in cmdline(pid)]


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def shares(collapsed: str) -> tuple[int, Counter[str]]:
    """Samples in all, and per layer, from py-spy's collapsed stacks."""
    total = 0
    per_layer: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        if "asyncio/runners.py" in stack.rsplit(";", 1)[-1]:
            per_layer[IDLE] += int(count)
        for layer, markers in LAYERS.items():
            if any(marker in stack for marker in markers.split("|")):
                per_layer[layer] += int(count)
    return total, per_layer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="relay_profile")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--svg", type=Path, default=ROOT / "docs" / "images" / "flame.svg")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")

    database_url = asyncio.run(recreate_database(args.database))
    settings = Settings(database_url=database_url)
    upgrade_database(settings)
    _, _, keys = asyncio.run(seed(settings))
    env = os.environ | {"RELAY_DATABASE_URL": database_url, "RELAY_LOG_LEVEL": "warning"}
    command = [str(BIN / "relay"), "serve", "--no-migrate", "--workers", "2"]
    command += ["--port", str(PORT)]
    url = f"http://127.0.0.1:{PORT}{PATH}"
    headers = {"X-API-Key": keys["full"]}
    collapsed = Path(f"/tmp/relay-profile-{os.getpid()}.txt")  # noqa: S108
    try:
        with serving(command, url, headers, env) as process:
            wrk(url, seconds=3, connections=32, headers=headers)
            worker = worker_pids(process.pid)[0]
            record = [py_spy, "record", "--pid", str(worker), "--nonblocking", "--rate", "200"]
            record += ["--duration", str(args.seconds), "--idle"]

            def load() -> None:
                wrk(url, seconds=args.seconds + 2, connections=32, headers=headers)

            driver = threading.Thread(target=load)
            driver.start()
            subprocess.run(
                [*record, "--format", "raw", "--output", str(collapsed)],
                check=True,
                capture_output=True,
            )
            driver.join()
            driver = threading.Thread(target=load)
            driver.start()
            args.svg.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [*record, "--format", "flamegraph", "--output", str(args.svg)],
                check=True,
                capture_output=True,
            )
            driver.join()
        total, per_layer = shares(collapsed.read_text())
    finally:
        collapsed.unlink(missing_ok=True)
        asyncio.run(drop_database(args.database))
    print(f"{total} samples of one worker over {args.seconds} s; flame graph: {args.svg}")
    print("\n| layer (inclusive) | share of samples |\n|---|---:|")
    for layer in (*LAYERS, IDLE):
        print(f"| {layer} | {per_layer[layer] / total:.1%} |")


if __name__ == "__main__":
    main()
