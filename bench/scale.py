"""How Relay's costs grow: list latency against datasets per tenant, and throughput
against the number of distinct API keys in use. Prints tables and draws a chart.

    .venv/bin/python bench/scale.py                        # both parts, lists up to 1M
    .venv/bin/python bench/scale.py --part lists --ten-million   # adds a 10M tenant (PostgreSQL)
    .venv/bin/python bench/scale.py --part keys            # only the key curve
    .venv/bin/python bench/scale.py --part audit           # only the audit log's list
    .venv/bin/python bench/scale.py --quick                # small sizes, to try the script

1. Lists: one `relay serve` worker, one tenant per size (1, 1k, 100k, 1M datasets),
   requests one at a time: page 1, the page after a cursor 50,000 rows deep (half the
   tenant when smaller), and the same depth by page number (OFFSET, for comparison).
2. Keys (PostgreSQL, `relay serve --workers 2`): wrk -c32 with bench/rotate_keys.lua
   sending 1, 1k, 10k, 100k or 300k distinct keys in turn, each key once per round,
   after a warm-up for each worker to meet every key its cache (RELAY_KEY_CACHE_SIZE,
   100,000 by default) can hold, 150 s at most; the hit ratio comes from /metrics.
3. Audit events (`--part audit`): GET /api/v1/audit-events measured as the datasets'
   list in step 1, for tenants of 1, 1k, 100k and 1M events.

Databases: PostgreSQL `relay_scale_bench` on 127.0.0.1:5432 (recreated, then dropped),
SQLite in a temporary directory. Writes bench/scale.json (a part run alone replaces only
its own figures, each with its run's time) and docs/images/scale.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from sqlalchemy import text

from benchlib import drop_database, recreate_database, serving, wrk
from relay.config import Settings
from relay.db import open_database
from relay.migrations import upgrade_database
from scale_report import draw_chart, markdown_tables
from scale_seed import SeededTenant, seed_keys, seed_tenants

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "docs" / "images" / "scale.png"
LIST = "/api/v1/datasets"
AUDIT_LIST = "/api/v1/audit-events"
PORT = 18095
DEPTH = 50_000
PAGE_SIZE = 20


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed_gets(client: httpx.Client, url: str, headers: dict[str, str], count: int) -> list[float]:
    """Latency in ms of `count` requests one after another, after 20 thrown away."""
    durations = []
    for number in range(count + 20):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        if number >= 20:
            durations.append(elapsed)
    return durations


def measure_lists(
    backend: str, database_url: str, tenants: list[SeededTenant], count: int, path: str = LIST
) -> list[dict[str, Any]]:
    """Rows of figures; `datasets` is the tenant's size (its audit events for AUDIT_LIST)."""
    env = os.environ | {"RELAY_DATABASE_URL": database_url, "RELAY_LOG_LEVEL": "warning"}
    command = [str(BIN / "relay"), "serve", "--no-migrate", "--port", str(PORT)]
    base = f"http://127.0.0.1:{PORT}{path}"
    rows = []
    with serving(command, base, {"X-API-Key": tenants[0].key}, env), httpx.Client() as client:
        for tenant in tenants:
            headers = {"X-API-Key": tenant.key}
            queries = {"page 1": f"?page_size={PAGE_SIZE}"}
            if tenant.cursor:
                queries["cursor"] = f"?page_size={PAGE_SIZE}&cursor={tenant.cursor}"
                queries["offset"] = f"?page_size={PAGE_SIZE}&page={tenant.depth // PAGE_SIZE + 1}"
            for kind, query in queries.items():
                # OFFSET is there for comparison only, and slow when deep: fewer requests.
                times = count if kind != "offset" else max(20, count // 5)
                durations = timed_gets(client, base + query, headers, times)
                rows.append(
                    {
                        "backend": backend,
                        "datasets": tenant.datasets,
                        "kind": kind,
                        "depth": tenant.depth if kind != "page 1" else 0,
                        "p50": statistics.median(durations),
                        "p99": percentile(durations, 0.99),
                    }
                )
                print_list_row(rows[-1], "events" if path == AUDIT_LIST else "datasets")
    return rows


def cache_hits(url: str, token: str) -> tuple[float, float]:
    """(hits, misses) of the key caches of all workers so far, from /metrics."""
    text = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).text
    counts = dict(re.findall(r'relay_key_cache_total{result="(hit|miss)"} ([\d.e+]+)', text))
    return float(counts.get("hit", 0)), float(counts.get("miss", 0))


def measure_keys(
    database_url: str, all_keys: list[str], counts: list[int], seconds: int
) -> list[dict[str, Any]]:
    key_file = Path(tempfile.mkdtemp(prefix="relay-scale-")) / "keys.txt"
    key_file.write_text("\n".join(all_keys) + "\n")
    token = "scale-bench"
    env = os.environ | {
        "RELAY_DATABASE_URL": database_url,
        "RELAY_LOG_LEVEL": "warning",
        "RELAY_METRICS_TOKEN": token,
    }
    command = [str(BIN / "relay"), "serve", "--no-migrate", "--workers", "2", "--port", str(PORT)]
    url = f"http://127.0.0.1:{PORT}{LIST}"
    metrics = f"http://127.0.0.1:{PORT}/metrics"
    cache_size = Settings(database_url=database_url).key_cache_size
    script = HERE / "rotate_keys.lua"
    rows = []
    for count in counts:
        wrk_env = os.environ | {
            "RELAY_BENCH_KEYS": str(key_file),
            "RELAY_BENCH_KEY_COUNT": str(count),
        }
        # A fresh server per point: no point inherits another's warm cache.
        with serving(command, url, {"X-API-Key": all_keys[0]}, env):
            first = wrk(url, seconds=3, connections=32, script=script, env=wrk_env)
            # Each of the 2 workers should meet every key once before the figures
            # count (about 2 x keys requests), when its cache can hold them all;
            # 150 s at most. The hit ratio below says how far that got.
            if count <= cache_size:
                warm_up = min(150.0, 2.2 * count / first["rps"])
                if warm_up > 3:
                    wrk(url, seconds=round(warm_up), connections=32, script=script, env=wrk_env)
            hits, misses = cache_hits(metrics, token)
            result = wrk(url, seconds=seconds, connections=32, script=script, env=wrk_env)
            hits_after, misses_after = cache_hits(metrics, token)
        looked_up = (hits_after - hits) + (misses_after - misses)
        result["hit_ratio"] = (hits_after - hits) / looked_up if looked_up else 0.0
        rows.append({"keys": count} | result)
        print(
            f"  {count:>9,} keys: {result['rps']:8.0f} req/s  p50 {result['p50']:7.2f} ms  "
            f"p99 {result['p99']:7.2f} ms  cache hits {result['hit_ratio']:4.0%}  "
            f"non-2xx {result['errors']:.0f}",
            flush=True,
        )
    return rows


def print_list_row(row: dict[str, Any], what: str) -> None:
    where = {"page 1": "page 1", "cursor": "cursor", "offset": "page=N"}[row["kind"]]
    print(
        f"  {row['backend']:10} {row['datasets']:>10,} {what:8}  {where:7} depth {row['depth']:>6,}"
        f"  p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms",
        flush=True,
    )


async def seed_backend(
    settings: Settings, sizes: list[int], keys: int, *, audit: bool = False
) -> tuple[list[SeededTenant], list[str]]:
    started = time.monotonic()
    # Seeding millions of rows (and ANALYZE after) outlasts a request's statement timeout.
    unbounded = settings.model_copy(update={"db_statement_timeout": 3600.0})
    async with open_database(unbounded) as database:
        tenants = await seed_tenants(database, sizes, DEPTH, audit=audit)
        if database.engine.dialect.name == "postgresql":
            # Autovacuum would analyse a table that grew by millions of rows; without
            # it the planner takes a 1M-row tenant for a few hundred rows.
            async with database.engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
        all_keys = []
        if keys:
            asyncpg_url = settings.async_database_url.replace("+asyncpg", "")
            all_keys = await seed_keys(database, asyncpg_url, keys)
    what = "audit events" if audit else "datasets"
    print(
        f"  seeded {sum(sizes):,} {what} and {keys:,} keys in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return tenants, all_keys


def measure_on_sqlite(sizes: list[int], requests: int, *, audit: bool) -> list[dict[str, Any]]:
    """The datasets' (or, with `audit`, the audit log's) list on a fresh SQLite file."""
    with tempfile.TemporaryDirectory(prefix="relay-scale-") as directory:
        sqlite = Settings(database_url=f"sqlite:///{directory}/scale.db")
        upgrade_database(sqlite)
        tenants, _ = asyncio.run(seed_backend(sqlite, sizes, 0, audit=audit))
        path = AUDIT_LIST if audit else LIST
        return measure_lists("SQLite", sqlite.database_url, tenants, requests, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["lists", "keys", "audit", "all"], default="all")
    parser.add_argument(
        "--ten-million", action="store_true", help="a 10M-dataset tenant on PostgreSQL"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument("--requests", type=int, default=500, help="timed list requests per point")
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per key count")
    args = parser.parse_args()
    sizes = [1, 1_000, 10_000] if args.quick else [1, 1_000, 100_000, 1_000_000]
    key_counts = [1, 1_000, 10_000] if args.quick else [1, 1_000, 10_000, 100_000, 300_000]
    lists, keys = args.part in ("lists", "all"), args.part in ("keys", "all")
    audit = args.part in ("audit", "all")
    started = datetime.now(UTC)
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    # Each part keeps the time of the run it comes from; the other part's figures stay.
    saved = HERE / "scale.json"
    results: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
    run = {"started": f"{started:%Y-%m-%d %H:%M} UTC", "rows": []}
    if lists:
        results["lists"] = run | {"rows": measure_on_sqlite(sizes, args.requests, audit=False)}
    if audit:
        results["audit"] = run | {"rows": measure_on_sqlite(sizes, args.requests, audit=True)}

    database_url = asyncio.run(recreate_database("relay_scale_bench"))
    try:
        postgres = Settings(database_url=database_url)
        upgrade_database(postgres)
        pg_sizes = (sizes + ([10_000_000] if args.ten_million else [])) if lists else []
        tenants, all_keys = asyncio.run(
            seed_backend(postgres, pg_sizes, max(key_counts) if keys else 0)
        )
        if lists:
            rows = measure_lists("PostgreSQL", database_url, tenants, args.requests)
            results["lists"]["rows"] += rows
        if audit:
            tenants, _ = asyncio.run(seed_backend(postgres, sizes, 0, audit=True))
            rows = measure_lists("PostgreSQL", database_url, tenants, args.requests, AUDIT_LIST)
            results["audit"]["rows"] += rows
        if keys:
            results["keys"] = run | {
                "rows": measure_keys(database_url, all_keys, key_counts, args.seconds)
            }
    finally:
        asyncio.run(drop_database("relay_scale_bench"))

    saved.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown_tables(results))
    draw_chart(results, CHART)
    print(f"wrote {saved} and {CHART}")


if __name__ == "__main__":
    main()
