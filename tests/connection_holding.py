"""Watching that no task holds a pooled connection while it waits for another one, or
for the password-hashing thread.

Either wait, done by as many requests at once as the pool has connections, stalls
every request of the worker until the pool's timeout: each holds what the others wait
for (an outside review took a server down for 30 s with 16 reset-password posts).
An autouse fixture watches every test: it fails when any task of it did either.
"""

from __future__ import annotations

import asyncio
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import greenlet
import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from relay.reads import ReadPool
from relay.tenants import passwords


def _where() -> str:
    """The innermost frames of Relay's own code, for the failure message. The pool's
    events run in SQLAlchemy's greenlet, whose stack does not reach the request's
    code: the frames of the greenlet that started it (suspended meanwhile) do."""
    frames = traceback.extract_stack()
    parent = greenlet.getcurrent().parent
    if parent is not None and parent.gr_frame is not None:
        frames = traceback.extract_stack(parent.gr_frame) + frames
    own = [
        f"{frame.name} ({frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno})"
        for frame in frames
        if "/src/relay/" in frame.filename
    ]
    return " <- ".join(reversed(own[-4:]))


class HeldConnections:
    """Per task, how many of the engine's connections it has checked out."""

    def __init__(self) -> None:
        self._held: Counter[asyncio.Task[Any]] = Counter()
        self._owner: dict[int, asyncio.Task[Any]] = {}
        self.violations: list[str] = []

    def _task(self) -> asyncio.Task[Any] | None:
        try:
            return asyncio.current_task()
        except RuntimeError:  # no running loop: not a request
            return None

    def on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        self.acquired(dbapi_connection)

    def on_checkin(self, dbapi_connection: Any, _record: Any) -> None:
        self.released(dbapi_connection)

    def acquired(self, connection: object) -> None:
        task = self._task()
        if task is None:
            return
        # Only where Relay's code takes the second one: a test may hold connections of
        # its own on purpose (to fill a pool, to hold a lock).
        if self._held[task] and (where := _where()):
            self.violations.append(f"a second connection while holding one: {where}")
        self._held[task] += 1
        self._owner[id(connection)] = task

    def released(self, connection: object) -> None:
        task = self._owner.pop(id(connection), None)
        if task is not None:
            self._held[task] -= 1
            if not self._held[task]:
                del self._held[task]

    def held_by_this_task(self) -> int:
        task = self._task()
        return self._held[task] if task is not None else 0

    def check_hashing(self) -> None:
        task = self._task()
        if task is not None and self._held[task] and (where := _where()):
            self.violations.append(f"password hashing while holding a connection: {where}")


class _WatchedPool(ThreadPoolExecutor):
    """The hashing pool, telling `held` whenever work is queued on it."""

    def __init__(self, held: HeldConnections, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="relay-argon2-watched")
        self._held_connections = held

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self._held_connections.check_hashing()
        return super().submit(fn, *args, **kwargs)


@contextmanager
def watch_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldConnections]:
    """Watch every pool (every app and engine of the test, SQLAlchemy's and the read
    pool) and the hashing thread while the block runs."""
    held = HeldConnections()
    event.listen(Pool, "checkout", held.on_checkout)
    event.listen(Pool, "checkin", held.on_checkin)
    read_connection = ReadPool.connection

    @asynccontextmanager
    async def watched_read_connection(pool: ReadPool) -> AsyncIterator[Any]:
        async with read_connection(pool) as connection:
            held.acquired(connection)
            try:
                yield connection
            finally:
                held.released(connection)

    monkeypatch.setattr(ReadPool, "connection", watched_read_connection)
    watched = _WatchedPool(held, passwords.HASHING_THREADS)
    monkeypatch.setattr(passwords, "_pool", watched)
    try:
        yield held
    finally:
        event.remove(Pool, "checkout", held.on_checkout)
        event.remove(Pool, "checkin", held.on_checkin)
        watched.shutdown(wait=False)
