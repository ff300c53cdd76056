"""A/B of one code change on the dataset list, in-process: the CPU a request costs the
app (middlewares, key check, route, page read on PostgreSQL, JSON), with the working
tree against another revision, in alternating rounds.

    .venv/bin/python bench/ab_list.py                  # working tree against HEAD
    .venv/bin/python bench/ab_list.py --base HEAD~3 --rounds 7 --requests 3000
    .venv/bin/python bench/ab_list.py --new /tmp/candidate   # another tree than this one
    .venv/bin/python bench/ab_list.py --key governed --redis  # the key with every control

Each side runs in a process of its own, importing Relay from its own tree (the base
from a `git worktree` of --base), and calls the ASGI app directly, as uvicorn would,
`--concurrency` requests at a time: the HTTP server is left out, so the figure is the
app's share. CPU time (all the process's threads), not wall time: what the other
sessions on this shared machine take changes it much less. The rounds alternate which
side goes first. PostgreSQL on 127.0.0.1:5432; the database --database is recreated.

--key picks the kind of key of bench/http_bench.py's seed: full access by default,
"governed" for the one with every control (scopes, datasets, addresses, a rate limit, a
quota and a pool); --redis counts rate limits in the Redis on 127.0.0.1:6379, as the
HTTP bench does (without it, in each process's memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import ROOT, drop_database, recreate_database

PATH = "/api/v1/datasets"


async def drive(requests: int, concurrency: int) -> float:
    """In the child: CPU µs per request over `requests` (after a warm-up)."""
    from relay.app import create_app

    app = create_app()
    key = os.environ["AB_KEY"].encode()
    answers: list[int] = []

    async def one(state: dict[str, Any]) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"x-api-key", key)],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": state.copy(),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answers.append(message["status"])

        await app(scope, receive, send)

    async def batch(count: int, state: dict[str, Any]) -> None:
        for _ in range(0, count, concurrency):
            await asyncio.gather(*(one(state) for _ in range(concurrency)))

    async with app.router.lifespan_context(app) as lifespan_state:
        state = dict(lifespan_state or {})
        await batch(500, state)
        started = time.process_time()
        await batch(requests, state)
        spent = time.process_time() - started
    if set(answers) != {200}:
        raise SystemExit(f"answers other than 200: {sorted(set(answers))}")
    return 1e6 * spent / requests


def run_side(tree: Path, args: argparse.Namespace, env: dict[str, str]) -> float:
    child = [sys.executable, __file__, "--child", "--requests", str(args.requests)]
    out = subprocess.run(
        [*child, "--concurrency", str(args.concurrency)],
        env=env | {"PYTHONPATH": f"{tree / 'src'}{os.pathsep}{ROOT / 'bench'}"},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["cpu_us"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--new", type=Path, default=ROOT, help="the tree to measure")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default="relay_ab_list")
    parser.add_argument("--key", default="full", help="full, scoped, limited, metered, governed")
    parser.add_argument("--redis", action="store_true", help="rate limits counted in Redis")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cpu_us = asyncio.run(drive(args.requests, args.concurrency))
        print(json.dumps({"cpu_us": cpu_us}))
        return

    from http_bench import seed
    from relay.config import Settings
    from relay.migrations import upgrade_database

    base = Path(f"/tmp/relay-ab-{os.getpid()}")  # noqa: S108
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base],
        check=True,
    )
    database_url = asyncio.run(recreate_database(args.database))
    try:
        settings = Settings(database_url=database_url)
        upgrade_database(settings)
        _, _, keys = asyncio.run(seed(settings))
        env = os.environ | {
            "RELAY_DATABASE_URL": database_url,
            "RELAY_LOG_LEVEL": "warning",
            "AB_KEY": keys[args.key],
        }
        if args.redis:
            env["RELAY_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        sides = {f"base ({args.base})": base, f"new ({args.new})": args.new}
        figures: dict[str, list[float]] = {name: [] for name in sides}
        for round_number in range(args.rounds):
            order = list(sides.items())
            if round_number % 2:
                order.reverse()
            for name, tree in order:
                figures[name].append(run_side(tree, args, env))
            shown = "  ".join(f"{name} {figures[name][-1]:6.1f} µs" for name in sides)
            print(f"round {round_number + 1}: {shown}", flush=True)
    finally:
        asyncio.run(drop_database(args.database))
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
        )
    print(
        f"\nCPU µs per request, {args.requests} requests per round, "
        f"{args.concurrency} at a time, {args.rounds} alternating rounds:\n"
    )
    print("| side | per round | median |\n|---|---|---:|")
    for name, values in figures.items():
        rounds = " ".join(f"{value:.0f}" for value in values)
        print(f"| {name} | {rounds} | {statistics.median(values):.1f} |")
    base_values, new_values = figures.values()
    ratios = [new / old for old, new in zip(base_values, new_values, strict=True)]
    print(
        f"\nnew / base per round: {' '.join(f'{r:.3f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
