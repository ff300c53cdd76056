"""Remembering the reports already received, so that a captured report sent again is
refused: in Redis when configured (shared by every worker and server), else in this
process's memory. A day is remembered; a reporter never needs to resend the same bytes,
unless the report was not taken (the database failed): then it is forgotten, and the
same bytes may come again."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

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
                return bool(await self._redis.set(_name(digest), 1, nx=True, ex=REMEMBERED_SECONDS))
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

    async def forget(self, digest: str) -> None:
        """The report was not taken after all: it may be sent again."""
        self._local.pop(digest, None)
        if self._redis is not None:
            try:
                await self._redis.delete(_name(digest))
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning(
                    "A leak report that was not taken stays marked as received (%s): "
                    "its retry will be refused as a replay for a day",
                    type(exc).__name__,
                )


def _name(digest: str) -> str:
    return f"relay:leak-report:{digest}"
