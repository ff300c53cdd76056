"""What the limit tests share: a clock the test moves for the app's windows, and servers
counting in one Redis with a way to send them requests at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from relay.config import Settings
from relay.limits.windows import LocalWindows
from tests.factories import key_headers
from tests.live_server import LiveServer, run_server
from tests.redis_server import RedisServer

DATASETS = "/api/v1/datasets"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    """The app's windows (in memory: no Redis here) on a clock that moves when the test
    moves it, so windows free up without waiting and Retry-After is exact."""
    clock = Clock()
    app.state.limits.windows = LocalWindows(clock=clock)
    return clock


def spread_requests(servers: list[LiveServer], keys: Sequence[str], count: int) -> list[int]:
    """`count` requests at once, each on a fresh connection, round robin over the servers
    and over the keys."""

    async def one(number: int) -> int:
        key = keys[number % len(keys)]
        async with httpx.AsyncClient(base_url=servers[number % len(servers)].base_url) as http:
            return (await http.get(DATASETS, headers=key_headers(key), timeout=30)).status_code

    async def all_of_them() -> list[int]:
        return list(await asyncio.gather(*(one(number) for number in range(count))))

    return asyncio.run(all_of_them())


@pytest.fixture
def limited_servers(
    settings: Settings, tmp_path: Path, redis_server: RedisServer
) -> Iterator[list[LiveServer]]:
    """Servers sharing the test database and one Redis: on PostgreSQL one server with 4
    workers and a second server; on SQLite (one worker per server) two servers."""
    redis_server.flush()
    env = {"RELAY_REDIS_URL": redis_server.url}
    workers = () if settings.is_sqlite else ("--workers", "4")
    with (
        run_server(settings.database_url, tmp_path / "a.log", *workers, env=env) as first,
        run_server(settings.database_url, tmp_path / "b.log", env=env) as second,
    ):
        yield [first, second]
