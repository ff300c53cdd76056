"""Leased places of busy Redis windows (relay.limits.leases): most hits on a window of
1,000 places or more are decided in a worker's memory, the windows still never let
more than their limit through across workers, leased places are counted until the
lease's end, and places left unused are given back."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from relay.config import Settings
from relay.limits import leases as leases_module
from relay.limits.leases import LEASE_MIN_LIMIT, LEASE_SECONDS, MAX_LEASE, WindowLeases
from relay.limits.windows import RedisWindows, Window
from relay.redis_client import create_redis
from tests.limits.conftest import Clock
from tests.pausable_proxy import PausableProxy
from tests.redis_server import RedisServer

PREFIX = "relay:window:"


def worker(server: RedisServer, clock: Clock) -> RedisWindows:
    """Windows on a client configured as Relay's, on the test's clock (leases last
    while it stands still)."""
    client = create_redis(Settings(redis_url=server.url))
    assert client is not None
    return RedisWindows(client, clock=clock)


async def script_calls(admin: Redis) -> int:
    stats = await admin.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_a_busy_window_is_decided_in_memory_with_exact_remaining(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    windows = worker(redis_server, Clock())
    admin = Redis.from_url(redis_server.url)
    try:
        before = await script_calls(admin)
        decisions = [await windows.hit("key:busy", 100_000, 60) for _ in range(200)]
        calls = await script_calls(admin) - before
    finally:
        await admin.aclose()
    assert all(decision.allowed for decision in decisions)
    # One worker: what it is told is left is exactly what is left, hit after hit.
    assert [decision.remaining for decision in decisions] == list(range(99_999, 99_799, -1))
    # Leases of 4, 8, 16, 32 and then 64 places: a call for about 1 hit in 33.
    assert calls <= 10


async def test_a_window_of_fewer_places_is_decided_hit_by_hit(redis_server: RedisServer) -> None:
    redis_server.flush()
    windows = worker(redis_server, Clock())
    admin = Redis.from_url(redis_server.url)
    try:
        before = await script_calls(admin)
        for _ in range(20):
            await windows.hit("key:small", LEASE_MIN_LIMIT - 1, 60)
        calls = await script_calls(admin) - before
    finally:
        await admin.aclose()
    assert calls == 20


async def test_leased_places_never_let_more_than_the_limit_through_across_workers(
    redis_server: RedisServer,
) -> None:
    """Four workers hit one window of 1,000 places 1,600 times, 64 at once: no more
    than 1,000 pass, and fewer only by the places still leased when the window filled;
    once their leases end, those places are given back with each worker's next call,
    and Redis counts exactly the hits that passed."""
    redis_server.flush()
    clock = Clock()
    workers = [worker(redis_server, clock) for _ in range(4)]
    window = Window("key:shared", 1000, 60)
    passed = 0
    for _ in range(25):
        wave = await asyncio.gather(
            *(workers[number % 4].hit_all([window]) for number in range(64))
        )
        passed += sum(decisions[0].allowed for decisions in wave)
    assert 1000 - 4 * MAX_LEASE <= passed <= 1000
    admin = Redis.from_url(redis_server.url)
    try:
        assert await admin.zcard(PREFIX + window.name) <= 1000
        clock.now += LEASE_SECONDS  # every lease is over
        for each in workers:
            passed += (await each.hit_all([window]))[0].allowed
        assert await admin.zcard(PREFIX + window.name) == passed
    finally:
        await admin.aclose()


async def test_leased_places_count_until_the_lease_ends(redis_server: RedisServer) -> None:
    """A place handed out at any time during its lease must stay in the window a full
    period after: each is scored at the lease's end, not at the grant."""
    redis_server.flush()
    windows = worker(redis_server, Clock())
    await windows.hit("key:scored", 100_000, 60)  # a hit, granted a lease beside it
    admin = Redis.from_url(redis_server.url)
    try:
        scores = dict(await admin.zrange(PREFIX + "key:scored", 0, -1, withscores=True))
    finally:
        await admin.aclose()
    hits = [score for member, score in scores.items() if b":" not in member]
    leased = [score for member, score in scores.items() if b":" in member]
    assert len(hits) == 1
    assert leased
    assert all(score >= max(hits) + LEASE_SECONDS * 1000 for score in leased), scores


def test_a_lease_grows_while_used_up_in_time_and_shrinks_when_left_over() -> None:
    clock = Clock()
    leases = WindowLeases(clock)
    window = Window("key:adaptive", 100_000, 60)

    assert leases.wanted(window) == 4  # a first lease is small
    assert leases.wanted(window) == 0  # one hit asks at a time
    leases.granted(window, ["a:1", "a:2", "a:3", "a:4"], 90_000, 60.0, clock.now)
    # Per hit, per window: (remaining, reset_after); the places held count as left.
    assert [leases.take([window]) for _ in range(4)] == [
        [(90_003, 60.0)],
        [(90_002, 60.0)],
        [(90_001, 60.0)],
        [(90_000, 60.0)],
    ]
    assert leases.take([window]) is None  # used up
    assert leases.wanted(window) == 8  # before the lease's end: twice as many next
    leases.granted(window, [f"b:{n}" for n in range(1, 9)], 80_000, 60.0, clock.now)
    assert leases.take([window]) is not None
    clock.now += LEASE_SECONDS  # over, 7 places unused
    assert leases.take([window]) is None
    assert leases.wanted(window) == 4  # half as many next
    assert leases.returns() == [(window.name, f"b:{n}") for n in range(1, 8)]
    assert leases.returns() == []


async def test_a_hit_without_a_lease_never_shortens_a_window_holding_leased_places(
    redis_server: RedisServer,
) -> None:
    """A review: a hit that asked for no places set the window's expiry to one period,
    deleting places leased a moment before while they still had to count."""
    redis_server.flush()
    leasing, other = worker(redis_server, Clock()), worker(redis_server, Clock())
    await leasing.hit("key:expiry", 100_000, 60)  # a hit and 4 places, scored 50 ms on
    await other.hit("key:expiry", LEASE_MIN_LIMIT - 1, 60)  # asks for none
    admin = Redis.from_url(redis_server.url)
    try:
        assert await admin.pttl(PREFIX + "key:expiry") > 60_000
    finally:
        await admin.aclose()


async def test_places_granted_to_a_cancelled_hit_are_given_back(
    redis_server: RedisServer,
) -> None:
    """A hit asking for places is cancelled while its call is out: Redis still grants
    them, and the worker's next call (on another window) removes them."""
    redis_server.flush()
    proxy = PausableProxy(redis_server.port)
    port = await proxy.start()
    windows = RedisWindows(Redis.from_url(f"redis://127.0.0.1:{port}/0"), clock=Clock())
    admin = Redis.from_url(redis_server.url)
    try:
        await windows.hit("key:warm", 10, 60)  # the connection is open
        proxy.flowing.clear()
        proxy.arrived.clear()
        cancelled = asyncio.ensure_future(windows.hit("key:cancelled", 100_000, 60))
        await asyncio.wait_for(proxy.arrived.wait(), 10)  # its call is out
        cancelled.cancel()
        proxy.flowing.set()
        await windows.hit("key:other", 10, 60)
        counted = await admin.zrange(PREFIX + "key:cancelled", 0, -1)
    finally:
        await proxy.stop()
        await admin.aclose()
    assert cancelled.cancelled()
    assert [member for member in counted if b":" in member] == []  # 4 granted, given back
    assert len(counted) == 1  # the hit itself: Redis counted it


def test_leases_are_bounded_and_end_when_a_window_is_no_longer_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leases_module, "MAX_WINDOWS", 2)
    clock = Clock()
    leases = WindowLeases(clock)
    busy = [Window(f"key:{number}", 100_000, 60) for number in range(3)]
    for number, window in enumerate(busy):
        assert leases.wanted(window) == 4
        leases.granted(window, [f"{number}:1", f"{number}:2"], 90_000, 60.0, clock.now)
    # A third window leased: the one used longest ago is forgotten, its places given back.
    assert leases.returns() == [("key:0", "0:1"), ("key:0", "0:2")]
    # A window whose limit went under LEASE_MIN_LIMIT is leased no more.
    assert leases.wanted(Window("key:1", LEASE_MIN_LIMIT - 1, 60)) == 0
    assert leases.returns() == [("key:1", "1:1"), ("key:1", "1:2")]
    assert leases.take([busy[1]]) is None
