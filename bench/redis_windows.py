"""A Redis-backed rate-limit check's cost to the worker: CPU and wall time per hit of
RedisWindows, with 1, 4 and 16 requests checking at once (as on a quiet, a busy and a
saturated worker), against the Redis of RELAY_REDIS_URL: on windows of 999 places,
decided hit by hit (a call to Redis each, or one per group of hits made at once), and
on windows of 10,000,000, whose places a worker leases (relay.limits.leases).

    .venv/bin/python bench/redis_windows.py
    .venv/bin/python bench/redis_windows.py --hits 20000 --redis-url redis://127.0.0.1:6379/0

CPU is this process's only (user + system, which includes loopback delivery to
Redis); Redis's own CPU is not counted. The keys written live under "bench:window:".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time

from relay.config import Settings
from relay.limits.windows import RedisWindows
from relay.redis_client import create_redis


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(url: str, concurrency: int, hits: int, limit: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per hit, after one unmeasured pass to warm up."""
    redis = create_redis(Settings(redis_url=url))  # configured as Relay configures it
    assert redis is not None
    windows = RedisWindows(redis, prefix="bench:window:")

    async def requester(number: int) -> None:
        for _ in range(hits // concurrency):
            await windows.hit(f"key:{number % 4}", limit, 1.0)

    try:
        await asyncio.gather(*(requester(n) for n in range(concurrency)))
        cpu, wall = _cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(requester(n) for n in range(concurrency)))
        cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    finally:
        await redis.aclose()
    return cpu / hits * 1e6, wall / hits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=8000)
    parser.add_argument(
        "--redis-url", default=os.environ.get("RELAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    arguments = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {arguments.hits} hits each")
    print("| window | requests checking at once | CPU µs per hit | wall µs per hit |")
    print("|---|---:|---:|---:|")
    for name, limit in (("999 places, hit by hit", 999), ("10,000,000 places, leased", 10**7)):
        for concurrency in (1, 4, 16):
            cpu, wall = asyncio.run(
                measure(arguments.redis_url, concurrency, arguments.hits, limit)
            )
            print(f"| {name} | {concurrency} | {cpu:.0f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
