"""Remembering the reports already received, so that a captured report sent again is
refused: in Redis when configured (shared by every worker and server), else in this
process's memory. A day is remembered; a reporter never needs to resend the same bytes."""

from __future__ import annotations

import time
from collections import OrderedDict

from redis.asyncio import Redis
from redis.exceptions import RedisError

REMEMBERED_SECONDS = 86_400
_MAX_LOCAL = 100_000


class SeenReports:
    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._local: OrderedDict[str, float] = OrderedDict()

    async def first_time(self, digest: str) -> bool:
        """Note the report; True unless it was seen in the last day."""
        if self._redis is not None:
            try:
                return bool(
                    await self._redis.set(
                        f"relay:leak-report:{digest}", 1, nx=True, ex=REMEMBERED_SECONDS
                    )
                )
            except (RedisError, OSError, TimeoutError):
                pass  # counted here meanwhile; a replay to another worker only repeats a no-op
        now = time.monotonic()
        while self._local and next(iter(self._local.values())) < now:
            self._local.popitem(last=False)
        if digest in self._local:
            return False
        self._local[digest] = now + REMEMBERED_SECONDS
        if len(self._local) > _MAX_LOCAL:
            self._local.popitem(last=False)
        return True
