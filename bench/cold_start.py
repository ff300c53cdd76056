"""Cold start: throughput and p99 in the 10 s after a restart, against the steady state,
with the key cache prewarmed (the default) and without (RELAY_KEY_PREWARM_LIMIT=0);
and what one cache miss costs.

    .venv/bin/python bench/cold_start.py                 # 3 rounds, about 6 min
    .venv/bin/python bench/cold_start.py --rounds 1 --part restart
    .venv/bin/python bench/cold_start.py --part miss     # a miss and a prewarm, in-process

1. Restart (PostgreSQL, `relay serve --workers 2`): wrk -c32 with bench/rotate_keys.lua
   sends 10,000 keys in turn (each once per round) to GET /api/v1/datasets. Warm-up
   until nearly every key is cached in both workers (the misses /metrics counts fall
   under 0.5 % of the look-ups, 240 s at most), then the steady state: wrk for
   --seconds. Then the server is stopped and started again, as a deploy does; once
   /healthz answers on both workers, wrk runs for --seconds at once: the cold window.
   Its req/s and p99 are set against the steady state's of the same server: targets
   >= 0.8 of the throughput and <= 2 x the p99. Prewarm on and off take turns within
   each round and swap their order from one round to the next, since this shared
   machine's speed drifts; the summary gives each figure's median over the rounds.
2. Miss (`--part miss`): the verifier of an app on the same database, in this process:
   keys never seen, verified one at a time (latency), 16 at once (misses per second
   and this process's CPU per miss), and 32 requests at once for one uncached key
   (until all are answered); then one worker's prewarm of 10,000 keys (its time and
   CPU).

PostgreSQL on 127.0.0.1:5432; the database --database is recreated, then dropped.
Needs wrk (python tools/provision.py wrk). To measure another checkout's server, put
its src first: PYTHONPATH=/path/to/checkout/src .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from benchlib import cpu_split, drop_database, recreate_database, serving, wrk
from relay.app import create_app
from relay.auth.models import ApiKey
from relay.config import Settings
from relay.db import Database, open_database, utcnow
from relay.migrations import upgrade_database
from scale_seed import seed_keys

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
PATH = "/api/v1/datasets"
CONNECTIONS = 32
METRICS_TOKEN = "cold-start-bench"
# Fresh connections to /healthz once the server answers: the kernel spreads them over
# the workers' sockets, so all of them answered means every worker serves (but 2**-16).
READY_PROBES = 16
THROUGHPUT_TARGET = 0.8
P99_TARGET = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["restart", "miss", "all"], default="all")
    parser.add_argument("--database", default="relay_cold_start_bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10, help="steady and cold windows")
    parser.add_argument("--port", type=int, default=18137)
    return parser.parse_args()


# --- 1. Restart --------------------------------------------------------------------


def cache_counts(port: int) -> tuple[float, float]:
    """(hits, misses) of the key caches of every worker so far, from /metrics."""
    answer = httpx.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    counts = dict(re.findall(r'relay_key_cache_total{result="(hit|miss)"} ([\d.e+]+)', answer.text))
    return float(counts.get("hit", 0)), float(counts.get("miss", 0))


def wait_for_every_worker(port: int) -> None:
    """Until READY_PROBES answers to /healthz in a row are 200 (60 s at most)."""
    deadline, answered = time.monotonic() + 60, 0
    while answered < READY_PROBES:
        if time.monotonic() > deadline:
            raise RuntimeError("the server's workers did not all answer /healthz in 60 s")
        # A new connection each time (no pool): each lands on a worker the kernel picks.
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60)
        answered = answered + 1 if answer.status_code == 200 else 0


def measured(port: int, wrk_env: dict[str, str], seconds: int, server: int) -> dict[str, float]:
    """One wrk run, with the cache's hit ratio over it and the CPU others used meanwhile
    (`server`: the server's process group)."""
    hits, misses = cache_counts(port)
    cpu = cpu_split(server)
    result = wrk(
        f"http://127.0.0.1:{port}{PATH}",
        seconds=seconds,
        connections=CONNECTIONS,
        script=HERE / "rotate_keys.lua",
        env=wrk_env,
    )
    cpu_after = cpu_split(server)
    hits_after, misses_after = cache_counts(port)
    looked_up = (hits_after - hits) + (misses_after - misses)
    result["hit_ratio"] = (hits_after - hits) / looked_up if looked_up else 0.0
    result["misses"] = misses_after - misses
    # The machine's CPU spent neither by Relay's and PostgreSQL's processes nor by wrk:
    # the other sessions sharing this machine (in cores, over the run).
    busy = {name: cpu_after[name] - cpu[name] for name in cpu}
    ours = busy["server"] + busy["postgres"] + busy["wrk"]
    result["elsewhere"] = (busy["machine"] - ours) / seconds
    return result


def warm_up(port: int, wrk_env: dict[str, str], server: int, keys: int) -> float:
    """wrk runs until fewer than 0.5 % of a run's key look-ups miss (240 s at most);
    the seconds it took. Every run starts again from the first key, so each lasts
    long enough to send every key twice (a key meets a given worker on half its
    rounds: after n rounds, 2**-n of the look-ups miss; without a prewarm it takes
    about 8)."""
    started, seconds = time.monotonic(), 5
    while time.monotonic() < started + 240:
        run = measured(port, wrk_env, seconds, server)
        if run["hit_ratio"] >= 0.995 and run["rps"] * seconds >= 2 * keys:
            break
        seconds = max(5, math.ceil(2 * keys / run["rps"]))
    return time.monotonic() - started


def server_env(database_url: str, prewarm: bool) -> dict[str, str]:
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_METRICS_TOKEN": METRICS_TOKEN,
    }
    if not prewarm:
        env["RELAY_KEY_PREWARM_LIMIT"] = "0"
    return env


def restart_once(
    database_url: str, wrk_env: dict[str, str], args: argparse.Namespace, prewarm: bool
) -> dict[str, dict[str, float]]:
    """The steady state of a warm server, then the cold window of its successor."""
    command = [str(BIN / "relay"), "serve", "--no-migrate", "--workers", "2"]
    command += ["--port", str(args.port)]
    healthz = f"http://127.0.0.1:{args.port}/healthz"
    env = server_env(database_url, prewarm)
    with serving(command, healthz, {}, env) as server:
        wait_for_every_worker(args.port)
        warmed_in = warm_up(args.port, wrk_env, server.pid, args.keys)
        steady = measured(args.port, wrk_env, args.seconds, server.pid)
        steady["warm_up"] = warmed_in
    # Stopped (every worker gone), then started again: a deploy.
    with serving(command, healthz, {}, env) as server:
        wait_for_every_worker(args.port)
        cold = measured(args.port, wrk_env, args.seconds, server.pid)
    return {"steady": steady, "cold": cold}


def print_run(mode: str, run: dict[str, dict[str, float]]) -> None:
    steady, cold = run["steady"], run["cold"]
    print(
        f"  prewarm {mode:3}  steady {steady['rps']:6.0f} req/s p99 {steady['p99']:6.1f} ms"
        f" hits {steady['hit_ratio']:4.0%} (warm-up {steady['warm_up']:3.0f} s)"
        f"  | cold 10 s {cold['rps']:6.0f} req/s p99 {cold['p99']:6.1f} ms"
        f" hits {cold['hit_ratio']:4.0%}"
        f"  | ratio {cold['rps'] / steady['rps']:4.2f}, p99 x{cold['p99'] / steady['p99']:4.1f}"
        f"  | non-2xx {steady['errors'] + cold['errors']:.0f}"
        f"  | CPU elsewhere {steady['elsewhere']:3.1f} / {cold['elsewhere']:3.1f} cores",
        flush=True,
    )


def summarise(runs: dict[str, list[dict[str, dict[str, float]]]]) -> None:
    print("\nMedians over the rounds (targets: cold >= 0.8 x steady req/s, p99 <= 2 x):")
    for mode, mode_runs in runs.items():

        def median(phase: str, figure: str, runs: Any = mode_runs) -> float:
            return statistics.median(run[phase][figure] for run in runs)

        ratios = [run["cold"]["rps"] / run["steady"]["rps"] for run in mode_runs]
        p99s = [run["cold"]["p99"] / run["steady"]["p99"] for run in mode_runs]
        ratio, p99 = statistics.median(ratios), statistics.median(p99s)
        verdict = "met" if ratio >= THROUGHPUT_TARGET and p99 <= P99_TARGET else "missed"
        print(
            f"  prewarm {mode:3}  steady {median('steady', 'rps'):6.0f} req/s"
            f" p99 {median('steady', 'p99'):6.1f} ms"
            f"  | cold 10 s {median('cold', 'rps'):6.0f} req/s p99 {median('cold', 'p99'):6.1f} ms"
            f"  | throughput {ratio:4.2f} (min {min(ratios):4.2f}), p99 x{p99:4.1f}"
            f" (max x{max(p99s):4.1f}): {verdict}",
            flush=True,
        )


def measure_restarts(database_url: str, all_keys: list[str], args: argparse.Namespace) -> None:
    key_file = Path(tempfile.mkdtemp(prefix="relay-cold-start-")) / "keys.txt"
    key_file.write_text("\n".join(all_keys) + "\n")
    wrk_env = os.environ | {
        "RELAY_BENCH_KEYS": str(key_file),
        "RELAY_BENCH_KEY_COUNT": str(len(all_keys)),
    }
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"on": [], "off": []}
    for number in range(args.rounds):
        print(f"round {number + 1} (load {os.getloadavg()[0]:.2f})", flush=True)
        order = ["on", "off"] if number % 2 == 0 else ["off", "on"]
        for mode in order:
            run = restart_once(database_url, wrk_env, args, prewarm=mode == "on")
            runs[mode].append(run)
            print_run(mode, run)
    summarise(runs)


# --- 2. Miss -------------------------------------------------------------------------


async def measure_miss(settings: Settings, all_keys: list[str]) -> None:
    app = create_app(settings.model_copy(update={"key_prewarm_limit": 0}))
    database: Database = app.state.db
    verifier = app.state.verifier
    verifier.mark_trusted()  # as once the revocation channel listens
    unseen = iter(all_keys)
    for key in [next(unseen) for _ in range(50)]:  # connections opened, statements prepared
        await verifier.verify(key)

    latencies = []
    for key in [next(unseen) for _ in range(1000)]:
        started = time.perf_counter()
        await verifier.verify(key)
        latencies.append((time.perf_counter() - started) * 1e3)
    latencies.sort()

    batch = [next(unseen) for _ in range(3000)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for key in batch:
        queue.put_nowait(key)

    async def verify_in_turn() -> None:
        while not queue.empty():
            await verifier.verify(queue.get_nowait())

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(verify_in_turn() for _ in range(16)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu

    hot_keys = [next(unseen) for _ in range(20)]
    waits = []
    for hot in hot_keys:
        started = time.perf_counter()
        await asyncio.gather(*(verifier.verify(hot) for _ in range(32)))
        waits.append((time.perf_counter() - started) * 1e3)
    await database.dispose()

    print(
        f"  one at a time: p50 {statistics.median(latencies):.3f} ms,"
        f" p99 {latencies[int(len(latencies) * 0.99) - 1]:.3f} ms",
        flush=True,
    )
    print(
        f"  16 at once: {len(batch) / elapsed:,.0f} misses/s,"
        f" {cpu / len(batch) * 1e6:.0f} us of this process's CPU per miss",
        flush=True,
    )
    print(
        f"  32 requests at once for one uncached key: all answered in"
        f" {statistics.median(waits):.2f} ms (median of {len(waits)} keys)",
        flush=True,
    )


async def measure_prewarm(settings: Settings) -> None:
    """One worker's prewarm, alone in this process, every seeded key marked used now."""
    async with open_database(settings) as database, database.sessionmaker.begin() as session:
        await session.execute(update(ApiKey).values(last_used_at=utcnow()))
    app = create_app(settings)
    prewarm = getattr(app.state, "key_prewarm", None)
    if prewarm is None:
        print("  prewarm: none in this checkout", flush=True)
    else:
        app.state.verifier.mark_trusted()  # as once the revocation channel listens
        cpu, started = time.process_time(), time.perf_counter()
        prewarm.start()
        await prewarm.finished.wait()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await prewarm.stop()
        print(
            f"  prewarm of {prewarm.warmed:,} keys: {elapsed:.2f} s,"
            f" {cpu * 1e3:.0f} ms of this process's CPU",
            flush=True,
        )
    await app.state.db.dispose()


# --- Setup ---------------------------------------------------------------------------


async def seed(settings: Settings, count: int) -> list[str]:
    async with open_database(settings) as database:
        asyncpg_url = settings.async_database_url.replace("+asyncpg", "")
        return await seed_keys(database, asyncpg_url, count)


def main() -> None:
    args = parse_args()
    started = datetime.now(UTC)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f},"
        f" {args.keys:,} keys, wrk -c{CONNECTIONS}",
        flush=True,
    )
    database_url = asyncio.run(recreate_database(args.database))
    try:
        settings = Settings(database_url=database_url)
        upgrade_database(settings)
        # The miss part takes its keys from beyond those the restarts use.
        all_keys = asyncio.run(seed(settings, args.keys + 5_000))
        if args.part in ("miss", "all"):
            print("Miss (in-process, PostgreSQL):", flush=True)
            asyncio.run(measure_miss(settings, all_keys[args.keys :]))
            asyncio.run(measure_prewarm(settings))
        if args.part in ("restart", "all"):
            print("Restart (relay serve --workers 2, PostgreSQL):", flush=True)
            measure_restarts(database_url, all_keys[: args.keys], args)
    finally:
        asyncio.run(drop_database(args.database))


if __name__ == "__main__":
    main()
