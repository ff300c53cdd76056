"""Sliding windows: at most `limit` hits in any `period` seconds, per name.

- LocalWindows counts in this process's memory (the embedded default).
- RedisWindows counts in Redis, atomically (a Lua script decides each hit), so
  every worker and server shares one count: exact, whichever process answers. Hits
  that arrive while a call is out go to Redis together, in one round trip; a window
  of 1,000 places or more is leased a few places at a time, handed out from memory
  (leases.py), and never lets more than its limit through either.
- SharedWindows uses Redis while it answers and LocalWindows meanwhile: a Redis
  that stops answering never stops requests (fail open); a metric and a log line
  say when counting falls back to per process and when it is shared again.

A sliding log rather than a token bucket: "20 per 60 seconds" means at most 20 in
any 60 seconds, which is what a user reads into it (a bucket lets almost twice as
many through in a minute). Refused hits are not counted.

One hit may have to pass several windows (a key's own and those of the keys that made
it): `hit_all` counts it in every one of them or, when any is full, in none, decided
at once (one script call in Redis), so a refused request never uses up another window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from relay import metrics
from relay.limits.leases import LEASE_SHARE, WindowLeases, lease_seconds

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` hits in any `period` seconds, counted under `name`. (Keys'
    windows have whole seconds, shown as such in their 429 messages.)"""

    name: str
    limit: int
    period: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one hit in one window. Of a hit on several windows at once,
    `allowed` says whether this window had room: the hit was counted (in all of them)
    only when every one had."""

    allowed: bool
    limit: int
    remaining: int
    # Seconds until the oldest counted hit leaves the window, freeing one place.
    reset_after: float

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before a refused hit could pass (at least 1). Rounded
        to the millisecond first: float noise must not turn 3600 s into 3601."""
        return max(1, math.ceil(round(self.reset_after, 3)))


class Windows(Protocol):
    async def hit(self, name: str, limit: int, period: float) -> Decision: ...

    async def hit_all(self, windows: Sequence[Window]) -> list[Decision]:
        """One hit on every window (distinct names), counted in all or, when one is
        full, in none; a decision per window, in order."""
        ...


class LocalWindows:
    """Hit times per name in this process, for at most `max_names` names (LRU)."""

    def __init__(
        self, max_names: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_names = max_names
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    async def hit(self, name: str, limit: int, period: float) -> Decision:
        return self.hit_all_now((Window(name, limit, period),))[0]

    async def hit_all(self, windows: Sequence[Window]) -> list[Decision]:
        return self.hit_all_now(windows)

    def hit_all_now(self, windows: Sequence[Window]) -> list[Decision]:
        now = self._clock()
        logs = [self._log(window, now) for window in windows]
        rooms = [len(hits) < window.limit for hits, window in zip(logs, windows, strict=True)]
        if all(rooms):
            for hits in logs:
                hits.append(now)
        return [
            Decision(
                room,
                window.limit,
                window.limit - len(hits),
                hits[0] + window.period - now if hits else window.period,
            )
            for hits, window, room in zip(logs, windows, rooms, strict=True)
        ]

    def _log(self, window: Window, now: float) -> deque[float]:
        """The window's hit times still inside it."""
        hits = self._hits.get(window.name)
        if hits is None:
            hits = self._hits[window.name] = deque()
            if len(self._hits) > self._max_names:
                self._hits.popitem(last=False)
        self._hits.move_to_end(window.name)
        while hits and hits[0] <= now - window.period:
            hits.popleft()
        return hits


# KEYS: first the windows of the places given back (leases.py), then one sorted set per
# window of each hit, hit after hit. ARGV: the number of places given back and their
# members; then per hit a unique member and its number of windows, then per window its
# limit and period in ms, the places asked for beside the hit and the lease's length in
# ms. Places given back are removed first. Hits are decided in order, each as if it
# came alone: counted in all its windows when each has room, else in none; a hit
# counted is granted, per window, the places it asked for, at most LEASE_SHARE-th of
# those left, each scored at the lease's end ("<member>:<n>"; a millisecond after, as
# Redis's clock is read in whole ones); the window lives until its newest entry leaves.
# The reply is one string of numbers, four per window (room, remaining, reset in ms,
# places granted): one bulk string costs the client a fraction of parsing a long array.
# Redis's own clock, so servers with skewed clocks agree. (Several keys in one script:
# fine on one Redis; a Redis Cluster would need them in one hash slot.)
_HIT_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local given_back = tonumber(ARGV[1])
for i = 1, given_back do
  redis.call('ZREM', KEYS[i], ARGV[1 + i])
end
local out = {}
local k, a = given_back, given_back + 2
while a <= #ARGV do
  local member, n = ARGV[a], tonumber(ARGV[a + 1])
  local keys, limits, periods, wants, leases, counts = {}, {}, {}, {}, {}, {}
  local room = true
  for j = 1, n do
    local b = a + 4 * j - 2
    keys[j] = KEYS[k + j]
    limits[j], periods[j] = tonumber(ARGV[b]), tonumber(ARGV[b + 1])
    wants[j], leases[j] = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    redis.call('ZREMRANGEBYSCORE', keys[j], '-inf', now - periods[j])
    counts[j] = redis.call('ZCARD', keys[j])
    if counts[j] >= limits[j] then room = false end
  end
  for j = 1, n do
    local had_room = counts[j] < limits[j] and 1 or 0
    local granted = 0
    if room then
      redis.call('ZADD', keys[j], now, member)
      counts[j] = counts[j] + 1
      granted = math.min(wants[j], math.floor((limits[j] - counts[j]) / LEASE_SHARE))
      for g = 1, granted do
        redis.call('ZADD', keys[j], now + leases[j] + 1, member .. ':' .. g)
      end
      counts[j] = counts[j] + granted
      -- Kept until its newest entry (a leased place, maybe another worker's) leaves it.
      local newest = redis.call('ZRANGE', keys[j], -1, -1, 'WITHSCORES')
      redis.call('PEXPIRE', keys[j], tonumber(newest[2]) + periods[j] - now)
    end
    local reset = periods[j]
    local oldest = redis.call('ZRANGE', keys[j], 0, 0, 'WITHSCORES')
    if oldest[2] then reset = tonumber(oldest[2]) + periods[j] - now end
    table.insert(out, had_room .. ' ' .. (limits[j] - counts[j]) .. ' ' .. reset .. ' ' .. granted)
  end
  k, a = k + n, a + 2 + 4 * n
end
return table.concat(out, ' ')
""".replace("LEASE_SHARE", str(LEASE_SHARE))


_HIT_SHA = hashlib.sha1(_HIT_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)

# Hits per script: a script blocks Redis while it runs, so a burst goes in slices.
MAX_HITS_PER_CALL = 128

# A hit's keys, and its arguments (member, number of windows, then limit, period, places
# asked for and lease length of each).
_Hit = tuple[list[str], list[str | int]]
_Reply = list[tuple[int, int, int, int]]  # per window: room, remaining, reset in ms, granted


class RedisWindows:
    """Windows in Redis, one sorted set per name under `prefix`.

    Group commit: at most one call to Redis is in flight per process. Hits that come
    while it is out wait for it and then go together, in one script call: one round
    trip and one command for all of them, however many there are (up to
    MAX_HITS_PER_CALL). A lone hit goes at once (the next turn of the event loop),
    so a quiet server waits no longer than before; a busy one sends fewer, larger
    calls. Each hit is still decided on its own, atomically, so counts stay exact.
    A client's CPU per hit, measured by bench/redis_windows.py: see the README.

    Busy windows (1,000 places or more) are leased (leases.py): a hit whose windows
    all have a place leased to this worker is decided in memory, without a call."""

    def __init__(
        self,
        redis: Redis,
        prefix: str = "relay:window:",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._leases = WindowLeases(clock)
        self._waiting: list[tuple[_Hit, asyncio.Future[_Reply]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, name: str, limit: int, period: float) -> Decision:
        return (await self.hit_all((Window(name, limit, period),)))[0]

    async def hit_all(self, windows: Sequence[Window]) -> list[Decision]:
        leased = self._leases.take(windows)
        if leased is not None:
            return [
                Decision(True, window.limit, remaining, reset_after)
                for window, (remaining, reset_after) in zip(windows, leased, strict=True)
            ]
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[_Reply] = loop.create_future()
        asked_at = self._clock()
        member = uuid.uuid4().hex
        wanted = [self._leases.wanted(window) for window in windows]
        arguments: list[str | int] = [member, len(windows)]
        for window, want in zip(windows, wanted, strict=True):
            lease_ms = math.ceil(lease_seconds(window) * 1000) if want else 0
            arguments += [window.limit, math.ceil(window.period * 1000), want, lease_ms]
        hit = ([self._prefix + window.name for window in windows], arguments)
        self._waiting.append((hit, reply))
        if self._sender is None:
            self._sender = loop.create_task(self._send_while_waiting())
        try:
            replies = await reply
        except BaseException:
            for window, want in zip(windows, wanted, strict=True):
                if want:
                    self._leases.not_granted(window, _places(member, want))
            raise
        decisions = []
        for (room, remaining, reset_ms, granted), window, want in zip(
            replies, windows, wanted, strict=True
        ):
            if want:
                places = _places(member, granted)
                self._leases.granted(window, places, remaining, reset_ms / 1000, asked_at)
            # The places this worker holds are left for its requests.
            decisions.append(
                Decision(bool(room), window.limit, remaining + granted, reset_ms / 1000)
            )
        return decisions

    async def _send_while_waiting(self) -> None:
        """Send what waits, then what came meanwhile, until nothing waits."""
        try:
            while self._waiting:
                batch = self._waiting[:MAX_HITS_PER_CALL]
                del self._waiting[:MAX_HITS_PER_CALL]
                try:
                    replies = await self._run([hit for hit, _ in batch])
                except BaseException as exc:
                    # Each hit of the batch gets it, and so does every hit waiting
                    # behind it: sending those to a Redis that just failed would make
                    # them wait out its timeout once more for each slice.
                    _settle(batch + self._waiting, exc)
                    self._waiting = []
                    if not isinstance(exc, Exception):
                        raise  # cancelled: shut down
                    return
                _settle(batch, replies)
        except BaseException as exc:
            _settle(self._waiting, exc)
            self._waiting = []
            raise
        finally:
            self._sender = None

    async def _run(self, hits: list[_Hit]) -> list[_Reply]:
        """The script's replies, in order; a NOSCRIPT (a restarted Redis) loads the
        script and runs it again: the refused call changed nothing."""
        given_back = self._leases.returns()
        keys = [self._prefix + name for name, _ in given_back]
        keys += [key for hit_keys, _ in hits for key in hit_keys]
        arguments: list[str | int] = [len(given_back), *(member for _, member in given_back)]
        arguments += [value for _, hit_arguments in hits for value in hit_arguments]
        try:
            try:
                reply = await self._evalsha(keys, arguments)
            except NoScriptError:
                await self._redis.script_load(_HIT_SCRIPT)
                reply = await self._evalsha(keys, arguments)
        except BaseException:
            self._leases.give_back(given_back)  # with the next call
            raise
        numbers = [int(number) for number in reply.split()]
        replies, start = [], 0
        for hit_keys, _ in hits:
            end = start + 4 * len(hit_keys)
            replies.append(
                [
                    (numbers[n], numbers[n + 1], numbers[n + 2], numbers[n + 3])
                    for n in range(start, end, 4)
                ]
            )
            start = end
        return replies

    async def _evalsha(self, keys: list[str], arguments: list[str | int]) -> bytes:
        # redis-py types the asyncio client's evalsha as "awaitable or not".
        reply = self._redis.evalsha(_HIT_SHA, len(keys), *keys, *arguments)
        return await cast(Awaitable[bytes], reply)


def _places(member: str, count: int) -> list[str]:
    """The members of the first `count` places the script leases beside the hit
    `member` ("<member>:1", ...: the script names them so)."""
    return [f"{member}:{number}" for number in range(1, count + 1)]


def _settle(
    batch: list[tuple[_Hit, asyncio.Future[_Reply]]], outcome: list[_Reply] | BaseException
) -> None:
    """Give each waiting hit its reply, or the error (SharedWindows falls back)."""
    for number, (_, reply) in enumerate(batch):
        if reply.done():  # its request was cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            reply.set_exception(outcome)
        else:
            reply.set_result(outcome[number])


class SharedWindows:
    """RedisWindows while Redis answers; LocalWindows while it does not (retried
    every `retry_interval` seconds)."""

    def __init__(
        self, shared: Windows, local: LocalWindows, *, retry_interval: float = 1.0
    ) -> None:
        self._shared = shared
        self._local = local
        self._retry_interval = retry_interval
        self._down_until = 0.0
        self.shared_now = True
        metrics.REDIS_UP.set(1)

    async def hit(self, name: str, limit: int, period: float) -> Decision:
        return (await self.hit_all((Window(name, limit, period),)))[0]

    async def hit_all(self, windows: Sequence[Window]) -> list[Decision]:
        if time.monotonic() < self._down_until:
            return await self._local.hit_all(windows)
        try:
            decisions = await self._shared.hit_all(windows)
        except (RedisError, OSError, TimeoutError) as exc:
            self._fell_back(exc)
            return await self._local.hit_all(windows)
        if not self.shared_now:
            self.shared_now = True
            metrics.REDIS_UP.set(1)
            logger.warning("Redis answers again: limits are shared by every worker again")
        return decisions

    def _fell_back(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self._retry_interval
        metrics.REDIS_FAILURES.inc()
        if self.shared_now:
            self.shared_now = False
            metrics.REDIS_UP.set(0)
            logger.warning(
                "Redis does not answer (%s): limits are counted per process until it does",
                type(exc).__name__,
            )
