"""Sliding windows in memory and in a real Redis: exact counts, shared by every
client of one Redis, and counting goes on per process while Redis is down."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from relay import metrics
from relay.config import Settings
from relay.limits.windows import (
    MAX_HITS_PER_CALL,
    LocalWindows,
    RedisWindows,
    SharedWindows,
    Window,
)
from relay.redis_client import create_redis
from tests.limits.conftest import Clock
from tests.pausable_proxy import PausableProxy
from tests.redis_server import RedisServer, run_redis

# Redis and memory only: the database the suite runs on plays no part.
pytestmark = pytest.mark.backend_independent


async def test_local_window_allows_the_limit_then_frees_a_place_as_hits_age() -> None:
    clock = Clock()
    windows = LocalWindows(clock=clock)
    decisions = []
    for _ in range(4):
        decisions.append(await windows.hit("key", 3, 60))
        clock.now += 10
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    # The first hit (at 1000) leaves the window at 1060; it is now 1040.
    assert decisions[-1].retry_after == 30
    clock.now = 1060.5
    assert (await windows.hit("key", 3, 60)).allowed
    assert not (await windows.hit("key", 3, 60)).allowed  # hits at 1010 and 1020 remain


async def test_refused_hits_are_not_counted() -> None:
    clock = Clock()
    windows = LocalWindows(clock=clock)
    for _ in range(10):
        await windows.hit("key", 2, 60)
    clock.now += 60.5
    assert [(await windows.hit("key", 2, 60)).allowed for _ in range(3)] == [True, True, False]


async def test_a_hit_on_several_local_windows_counts_in_all_or_in_none() -> None:
    windows = LocalWindows(clock=Clock())
    wide, narrow = Window("wide", 3, 60), Window("narrow", 1, 60)
    first = await windows.hit_all([wide, narrow])
    assert [(d.allowed, d.remaining) for d in first] == [(True, 2), (True, 0)]
    refused = await windows.hit_all([wide, narrow])
    # The wide window had room, but the hit was not counted there: the narrow one is full.
    assert [(d.allowed, d.remaining) for d in refused] == [(True, 2), (False, 0)]
    assert [(await windows.hit("wide", 3, 60)).allowed for _ in range(3)] == [True, True, False]


def redis_windows(server: RedisServer) -> RedisWindows:
    return redis_windows_at(server.url)


def redis_windows_at(url: str) -> RedisWindows:
    """Windows on a client configured as Relay configures it (timeouts included)."""
    client = create_redis(Settings(redis_url=url))
    assert client is not None
    return RedisWindows(client)


async def test_redis_count_is_exact_across_many_clients(redis_server: RedisServer) -> None:
    redis_server.flush()
    # Four clients stand for four workers: 40 hits at once, a limit of 20.
    workers = [redis_windows(redis_server) for _ in range(4)]
    decisions = await asyncio.gather(
        *(workers[number % 4].hit("key:shared", 20, 60) for number in range(40))
    )
    assert sum(decision.allowed for decision in decisions) == 20
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(20))
    refused = [d for d in decisions if not d.allowed]
    assert all(59 <= d.reset_after <= 60 for d in refused)


async def test_a_hit_on_several_redis_windows_counts_in_all_or_in_none(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    windows = redis_windows(redis_server)
    wide, narrow = Window("wide", 3, 60), Window("narrow", 1, 60)
    first = await windows.hit_all([wide, narrow])
    assert [(d.allowed, d.remaining) for d in first] == [(True, 2), (True, 0)]
    refused = await windows.hit_all([wide, narrow])
    assert [(d.allowed, d.remaining) for d in refused] == [(True, 2), (False, 0)]
    assert [(await windows.hit("wide", 3, 60)).allowed for _ in range(3)] == [True, True, False]


async def test_hits_on_a_shared_window_and_their_own_are_exact_across_clients(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    # Four workers; each hit passes the shared window (20) and one of 4 own windows (3),
    # all in the same script calls: 12 pass, and each own window holds exactly 3.
    workers = [redis_windows(redis_server) for _ in range(4)]
    decisions = await asyncio.gather(
        *(
            workers[number % 4].hit_all(
                [Window("shared", 20, 60), Window(f"own:{number % 4}", 3, 60)]
            )
            for number in range(40)
        )
    )
    passed = [number for number, pair in enumerate(decisions) if all(d.allowed for d in pair)]
    assert len(passed) == 12
    assert sorted(number % 4 for number in passed) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert sorted(decisions[number][0].remaining for number in passed) == list(range(8, 20))


async def _script_calls(admin: Redis) -> int:
    stats = await admin.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_hits_made_together_share_one_connection(redis_server: RedisServer) -> None:
    redis_server.flush()
    windows = redis_windows(redis_server)
    admin = Redis.from_url(redis_server.url)
    try:
        before = (await admin.info("stats"))["total_connections_received"]
        decisions = await asyncio.gather(*(windows.hit(f"key:{n}", 1, 60) for n in range(40)))
        after = (await admin.info("stats"))["total_connections_received"]
    finally:
        await admin.aclose()
    # One call on one connection: a connection per hit would have opened 40.
    assert after - before == 1
    assert all(decision.allowed and decision.remaining == 0 for decision in decisions)


async def test_hits_that_come_while_a_call_is_out_go_together_in_the_next(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    proxy = PausableProxy(redis_server.port)
    port = await proxy.start()
    windows = RedisWindows(Redis.from_url(f"redis://127.0.0.1:{port}/0"))
    admin = Redis.from_url(redis_server.url)
    try:
        await windows.hit("key:warm", 100, 60)  # the connection is open
        calls_before = await _script_calls(admin)
        proxy.flowing.clear()
        proxy.arrived.clear()
        first = asyncio.ensure_future(windows.hit("key:shared", 5, 60))
        await asyncio.wait_for(proxy.arrived.wait(), 10)  # the first call is out
        meanwhile = [asyncio.ensure_future(windows.hit("key:shared", 5, 60)) for _ in range(10)]
        await asyncio.sleep(0)  # one turn of the loop: each of the ten takes its place
        proxy.flowing.set()
        decisions = await asyncio.gather(first, *meanwhile)
        calls = await _script_calls(admin) - calls_before
    finally:
        await proxy.stop()
        await admin.aclose()
    # The ten waited for the first call, then went in one: two calls, not eleven.
    assert calls == 2
    # Still decided one by one, in the order they came: exact.
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 6
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]


async def test_hits_waiting_behind_a_failed_call_fail_with_it(redis_server: RedisServer) -> None:
    """A review: after a call to a hung Redis timed out, the hits queued behind it were
    sent in further slices, each waiting out the timeout again."""
    proxy = PausableProxy(redis_server.port)
    port = await proxy.start()
    windows = redis_windows_at(f"redis://127.0.0.1:{port}/0")
    try:
        await windows.hit("key:warm", 100, 60)  # the connection is open
        proxy.flowing.clear()  # Redis hangs
        for _ in range(2):  # the second, on a client already cut off, is the measure
            before = proxy.accepted
            lone = await asyncio.gather(windows.hit("key:lone", 100, 60), return_exceptions=True)
            one_call = proxy.accepted - before
        before = proxy.accepted
        burst = await asyncio.gather(
            *(windows.hit("key:burst", 1000, 60) for _ in range(MAX_HITS_PER_CALL * 2 + 1)),
            return_exceptions=True,
        )
        tried = proxy.accepted - before
    finally:
        await proxy.stop()
    assert isinstance(lone[0], Exception)
    assert all(isinstance(outcome, Exception) for outcome in burst)
    # Its first slice tried Redis as a lone hit does (redis-py's own retries, each on a
    # new connection); the two slices behind it did not try at all.
    assert one_call >= 1
    assert tried == one_call


async def test_a_burst_goes_in_slices_each_exact(redis_server: RedisServer) -> None:
    redis_server.flush()
    windows = redis_windows(redis_server)
    admin = Redis.from_url(redis_server.url)
    try:
        calls_before = await _script_calls(admin)
        hits = MAX_HITS_PER_CALL * 2 + 1
        decisions = await asyncio.gather(*(windows.hit("key:burst", 300, 60) for _ in range(hits)))
        calls = await _script_calls(admin) - calls_before
    finally:
        await admin.aclose()
    assert calls == 3  # no script holds Redis for more than MAX_HITS_PER_CALL hits
    assert sum(d.allowed for d in decisions) == 257
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(300 - 257, 300))


async def test_a_redis_that_lost_its_scripts_gets_the_script_again(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    windows = redis_windows(redis_server)
    admin = Redis.from_url(redis_server.url)
    try:
        assert (await windows.hit("key", 2, 60)).allowed
        await admin.script_flush()  # as after a restart or a failover
        decisions = await asyncio.gather(*(windows.hit("key", 2, 60) for _ in range(2)))
    finally:
        await admin.aclose()
    # The refused call counted nothing: one place was left, and one hit took it.
    assert [d.allowed for d in decisions] == [True, False]


async def test_redis_window_frees_places_as_hits_age(redis_server: RedisServer) -> None:
    redis_server.flush()
    windows = redis_windows(redis_server)
    assert (await windows.hit("key:short", 1, 0.2)).allowed
    refused = await windows.hit("key:short", 1, 0.2)
    assert not refused.allowed
    await asyncio.sleep(refused.reset_after + 0.05)  # Redis's clock decides, not ours
    assert (await windows.hit("key:short", 1, 0.2)).allowed


async def test_counting_goes_on_per_process_while_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with run_redis() as server:
        windows = SharedWindows(redis_windows(server), LocalWindows(), retry_interval=0)
        failures_before = metrics.REDIS_FAILURES._value.get()
        assert (await windows.hit("key", 2, 60)).allowed
        assert windows.shared_now

        server.stop()
        with caplog.at_level(logging.WARNING, logger="relay.limits.windows"):
            during = [await windows.hit("key", 2, 60) for _ in range(3)]
        # Requests go on: the process counts on its own, from zero.
        assert [d.allowed for d in during] == [True, True, False]
        assert not windows.shared_now
        assert metrics.REDIS_UP._value.get() == 0
        assert metrics.REDIS_FAILURES._value.get() >= failures_before + 3
        assert "Redis does not answer" in caplog.text

        server.start()
        with caplog.at_level(logging.WARNING, logger="relay.limits.windows"):
            back = await windows.hit("key", 2, 60)
        assert back.allowed  # a fresh Redis: its window is empty
        assert windows.shared_now
        assert metrics.REDIS_UP._value.get() == 1
        assert "Redis answers again" in caplog.text


def test_retry_after_is_the_window_not_a_second_more() -> None:
    # 3600.0000000002 seconds of float noise once read "Retry-After: 3601".
    from relay.limits.windows import Decision

    assert Decision(False, 3, 0, 3600.0000000002).retry_after == 3600
    assert Decision(False, 3, 0, 3599.2).retry_after == 3600
    assert Decision(False, 3, 0, 0.0004).retry_after == 1
