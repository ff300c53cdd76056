"""Prewarming a worker's key cache, so that a deploy or a worker restart does not send
the first use of every busy key to the database.

On start, in the background, each worker loads the keys used in the last
`key_prewarm_window` seconds (live: not revoked, expired nor disabled), most recently
used first, at most `key_prewarm_limit` of them and never more than its cache holds,
in batches; each principal is built by the code a cache miss uses (principals.py).
Readiness never waits for it: /healthz and requests are served meanwhile, and a key
not warmed yet loads on its first use, as it would without a prewarm.

It begins once the cache is trusted (on PostgreSQL, once the revocation channel
listens: trusting empties the cache). A batch whose load a revocation may have raced
(the cache's generation moved meanwhile) is loaded again, so a key revoked during the
prewarm is never served from the cache; an entry a request cached meanwhile is kept.
A failure is logged and ends the prewarm, never the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, or_, tuple_

from relay.auth import principals
from relay.auth.models import ApiKey
from relay.auth.verifier import KeyVerifier
from relay.background import BackgroundTask
from relay.config import Settings
from relay.db import Database, utcnow
from relay.reads import PreparedRead

logger = logging.getLogger(__name__)

_keys = cast(Table, ApiKey.__table__)
# Keys per read. A batch holds the event loop for about 25 ms (rows decoded, principals
# built, cached); each read sorts the live keys by last use again (api_keys has no
# index on last_used_at: 36 ms of PostgreSQL's CPU at 20,000 keys, measured here).
BATCH = 1000
# Loads of one batch before giving up, when revocations keep racing them.
_ATTEMPTS = 3


def _recently_used(*, after: bool) -> Select[Any]:
    """Live keys used since `since`, most recently used first, `limit` of them (after
    the key at `after_used_at`, `after_id`, with `after`)."""
    query = (
        principals.key_rows()
        .add_columns(_keys.c.key_hash, _keys.c.last_used_at)
        .where(
            _keys.c.last_used_at >= bindparam("since", type_=_keys.c.last_used_at.type),
            _keys.c.revoked_at.is_(None),
            _keys.c.disabled_at.is_(None),
            or_(_keys.c.expires_at.is_(None), _keys.c.expires_at > bindparam("now")),
        )
    )
    if after:
        position = tuple_(
            bindparam("after_used_at", type_=_keys.c.last_used_at.type),
            bindparam("after_id", type_=_keys.c.id.type),
        )
        query = query.where(tuple_(_keys.c.last_used_at, _keys.c.id) < position)
    order = (_keys.c.last_used_at.desc(), _keys.c.id.desc())
    return query.order_by(*order).limit(bindparam("limit"))


_FIRST = PreparedRead(_recently_used(after=False))
_NEXT = PreparedRead(_recently_used(after=True))


class KeyPrewarm:
    """Runs once beside the app in each worker. `finished` is set when it is over:
    done, failed, stopped, or off (a limit of 0); `warmed` counts the keys it added."""

    def __init__(self, database: Database, verifier: KeyVerifier, settings: Settings) -> None:
        self._database = database
        self._verifier = verifier
        self._window = timedelta(seconds=settings.key_prewarm_window)
        self.limit = min(settings.key_prewarm_limit, settings.key_cache_size)
        self.warmed = 0
        self.finished = asyncio.Event()
        self._task = BackgroundTask(self._run, name="relay-key-prewarm")

    def start(self) -> None:
        if self.limit == 0:
            self.finished.set()
            return
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        started = time.monotonic()
        try:
            await self._verifier.trusted.wait()
            await self._prewarm(since=utcnow() - self._window)
        except Exception as exc:
            logger.warning(
                "key cache prewarm failed, keys load on first use: %s", type(exc).__name__
            )
        else:
            logger.info(
                "key cache prewarmed: %d keys in %.2f s", self.warmed, time.monotonic() - started
            )
        finally:
            self.finished.set()

    async def _prewarm(self, *, since: datetime) -> None:
        after: dict[str, Any] | None = None
        loaded = 0
        while loaded < self.limit:
            size = min(BATCH, self.limit - loaded)
            rows = await self._warm_batch(since, after, size)
            if rows is None:
                logger.info("key cache prewarm stopped: keys kept changing during its loads")
                return
            loaded += len(rows)
            if len(rows) < size:
                return
            after = rows[-1]

    async def _warm_batch(
        self, since: datetime, after: dict[str, Any] | None, size: int
    ) -> list[dict[str, Any]] | None:
        """Load a batch and add it to the cache: its rows, or None when every load was
        raced by a revocation."""
        params: dict[str, Any] = {"since": since, "limit": size}
        if after is not None:
            params |= {"after_used_at": after["last_used_at"], "after_id": after["id"]}
        for _ in range(_ATTEMPTS):
            await self._verifier.trusted.wait()
            generation = self._verifier.cache.generation
            async with self._database.read_connection() as reader:
                rows = await (_FIRST if after is None else _NEXT).rows(
                    reader, params | {"now": utcnow()}
                )
                built = await principals.principals_of(reader, rows)
            entries = zip((row["key_hash"] for row in rows), built, strict=True)
            added = self._verifier.cache.warm(entries, generation=generation)
            if added is not None:
                self.warmed += added
                return rows
        return None
