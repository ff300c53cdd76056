"""Key verification speed: warm (cached) verifications per second in one process,
and cold (database) verification latency.

    .venv/bin/python bench/verify.py            # SQLite in a temp dir
    .venv/bin/python bench/verify.py --keys 1000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/relay_bench

The database is migrated first and keeps its keys between runs: a second run with
--keys 1000 measures against the 1,000,000 keys of the first plus 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
import uuid

from sqlalchemy import func, insert, select

from relay.auth import keys
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.principal import Principal
from relay.auth.verifier import KeyVerifier
from relay.config import Settings
from relay.db import Database, utcnow
from relay.migrations import upgrade_database
from relay.tenants.models import Tenant


async def seed(database: Database, count: int) -> list[str]:
    """`count` keys in one tenant (fast bulk insert); returns a sample of full keys."""
    tenant_id = uuid.uuid4()
    sample: list[str] = []
    async with database.sessionmaker.begin() as session:
        await session.execute(
            insert(Tenant), [{"id": tenant_id, "name": "bench", "created_at": utcnow()}]
        )
        batch: list[dict[str, object]] = []
        for number in range(count):
            key = keys.generate_key()
            if number % max(1, count // 1000) == 0:
                sample.append(key)
            key_id = uuid.uuid4()
            batch.append(
                {
                    "id": key_id,
                    "family_id": key_id,
                    "tenant_id": tenant_id,
                    "name": f"key {number}",
                    "key_prefix": keys.display_prefix(key),
                    "key_hash": keys.hash_key(key),
                    "scopes": [],
                    "created_at": utcnow(),
                }
            )
            if len(batch) == 10_000:
                await session.execute(insert(ApiKey), batch)
                batch = []
        if batch:
            await session.execute(insert(ApiKey), batch)
    return sample


async def measure(settings: Settings, args: argparse.Namespace) -> None:
    database = Database(settings)
    sample = await seed(database, args.keys)
    async with database.engine.connect() as connection:
        in_table = (await connection.execute(select(func.count()).select_from(ApiKey))).scalar_one()
    verifier = KeyVerifier(database, KeyCache(100_000, 10_000, 5.0), trusted=True)

    cold: list[float] = []
    for key in sample:
        verifier.cache.clear()
        started = time.perf_counter()
        await verifier.verify(key)
        cold.append((time.perf_counter() - started) * 1e6)

    hot_key = sample[0]
    await verifier.verify(hot_key)
    started = time.perf_counter()
    for _ in range(args.warm):
        await verifier.verify(hot_key)
    elapsed = time.perf_counter() - started
    await database.dispose()

    cold.sort()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"cores: {os.cpu_count()}  database: {backend}  keys in table: {in_table:,}")
    print(
        f"warm verify: {args.warm / elapsed:,.0f} per second "
        f"({elapsed / args.warm * 1e6:.2f} us each, one core)"
    )
    print(
        f"cold verify ({len(cold)} keys, cache emptied before each): "
        f"p50 {statistics.median(cold) / 1000:.3f} ms, "
        f"p99 {cold[int(len(cold) * 0.99) - 1] / 1000:.3f} ms"
    )


def cache_memory(entries: int) -> float:
    """Bytes per cached key, measured by filling a cache with distinct principals."""
    cache = KeyCache(entries, 10_000, 5.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(entries):
        principal = Principal(
            tenant_id=uuid.uuid4(),
            key_id=uuid.uuid4(),
            key_prefix=keys.display_prefix(keys.generate_key()),
            scopes=(),
            expires_at=utcnow(),
        )
        cache.put(keys.hash_key(keys.generate_key()), principal, generation=cache.generation)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--keys", type=int, default=10_000, help="keys in the table")
    parser.add_argument("--cache-entries", type=int, default=100_000)
    parser.add_argument("--warm", type=int, default=300_000, help="warm verifications to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=args.database_url or f"sqlite:///{tmp}/bench.db")
        upgrade_database(settings)  # runs its own event loop, so before ours
        asyncio.run(measure(settings, args))
    per_entry = cache_memory(args.cache_entries)
    print(
        f"cache memory: {per_entry:.0f} bytes per key, "
        f"{per_entry * 100_000 / 2**20:.0f} MiB for the default 100,000 keys"
    )


if __name__ == "__main__":
    main()
