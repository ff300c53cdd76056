"""What one worker's key-activity flush costs when many keys were used in its second:
the write behind last_used_at, usage counts, a key's clients, the scopes it needed, the
networks and new addresses it was seen from (relay.auth.activity, relay.auth.insight).

    .venv/bin/python bench/activity_flush.py               # 1,000 and 5,000 keys, 3 rounds
    .venv/bin/python bench/activity_flush.py --keys 10000

Each round records one use of each of --keys keys (as many requests from as many keys
in one second: 10,000 keys sent round-robin) and flushes it, three times:
"new network" (every key used from a network it was never used from: an audit event
and a notice each), "restart" (a new worker's first second: every key and address is
new to this worker, known to the database) and "steady" (a later second of that
worker: nothing new). Printed per case: wall time, this process's CPU (per key),
and the statements sent; the median over the rounds.

PostgreSQL on 127.0.0.1:5432; the database --database is recreated, then dropped.
To measure another checkout, put its src first: PYTHONPATH=/path/to/src .venv/bin/python ...
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from benchlib import drop_database, recreate_database
from relay.app import create_app
from relay.auth.activity import KeyActivity
from relay.auth.principal import Principal
from relay.config import Settings
from relay.db import Database
from relay.migrations import upgrade_database
from scale_seed import seed_keys

SCOPE = "datasets:read"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="relay_activity_flush_bench")
    parser.add_argument("--keys", type=int, nargs="+", default=[1_000, 5_000])
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


async def principals_of(database: Database, settings: Settings, keys: list[str]) -> list[Principal]:
    app = create_app(settings.model_copy(update={"key_prewarm_limit": 0}))
    verifier = app.state.verifier
    verifier.mark_trusted()
    principals = [await verifier.verify(key) for key in keys]
    await app.state.db.dispose()
    return principals


async def flush_once(
    database: Database, activity: KeyActivity, principals: list[Principal], network: int
) -> dict[str, float]:
    for number, principal in enumerate(principals):
        address = f"10.{network}.{number // 250}.{number % 250}"
        activity.record_use(principal, 200, address, "bench/1.0", scope=SCOPE)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    cpu, started = time.process_time(), time.perf_counter()
    await activity.flush()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    return {"ms": elapsed * 1e3, "cpu_ms": cpu * 1e3, "statements": statements}


async def measure(settings: Settings, keys: list[str], rounds: int) -> None:
    database = Database(settings)
    principals = await principals_of(database, settings, keys)
    runs: dict[str, list[dict[str, float]]] = {"new network": [], "restart": [], "steady": []}
    for round_number in range(1, rounds + 1):
        # Networks 10.<round>.x.0/24, new to every key in this round.
        new = KeyActivity(database.sessionmaker, interval=3600)
        runs["new network"].append(await flush_once(database, new, principals, round_number))
        worker = KeyActivity(database.sessionmaker, interval=3600)
        runs["restart"].append(await flush_once(database, worker, principals, round_number))
        runs["steady"].append(await flush_once(database, worker, principals, round_number))
    for case, measured in runs.items():
        cpu = statistics.median(r["cpu_ms"] for r in measured)
        print(
            f"  {len(keys):6,} keys, {case:11}"
            f"  {statistics.median(r['ms'] for r in measured):8.1f} ms"
            f"  CPU {cpu:8.1f} ms ({cpu / len(keys) * 1e3:5.0f} us a key)"
            f"  statements {statistics.median(r['statements'] for r in measured):7,.0f}",
            flush=True,
        )
    await database.dispose()


async def seed(settings: Settings, count: int) -> list[str]:
    database = Database(settings)
    try:
        asyncpg_url = settings.async_database_url.replace("+asyncpg", "")
        return await seed_keys(database, asyncpg_url, count)
    finally:
        await database.dispose()


def main() -> None:
    args = parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, key-activity flush, PostgreSQL", flush=True)
    database_url = asyncio.run(recreate_database(args.database))
    try:
        settings = Settings(database_url=database_url)
        upgrade_database(settings)
        all_keys = asyncio.run(seed(settings, max(args.keys)))
        for count in args.keys:
            asyncio.run(measure(settings, all_keys[:count], args.rounds))
    finally:
        asyncio.run(drop_database(args.database))


if __name__ == "__main__":
    main()
