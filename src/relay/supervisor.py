"""The supervisor of `relay serve --workers N`: a worker process on each listening
socket (relay.serving binds them), replaced when it dies or hangs, all stopped together.

It starts a worker again when one dies (its socket, and the connections waiting on
it, stay open meanwhile), and on SIGINT, SIGTERM, SIGHUP or SIGQUIT asks every worker
to finish its requests and waits for them. A worker that dies before it started
serving (the app cannot load, the database is not there) stops it instead, with an
error: every new worker would fail alike.

A worker can also hang without dying, its event loop blocked (a synchronous call, a
loop that never awaits): its socket keeps its share of new connections, and they wait
for ever. So once a worker serves, the supervisor pings its event loop through a pipe
(the heartbeat, below) and replaces a worker whose ping has waited
RELAY_WORKER_HEARTBEAT_TIMEOUT: a warning, SIGKILL, a new worker on the same socket.
A worker whose supervisor is gone (its pipe closes) stops as on SIGTERM.

relay_worker_replacements_total{reason} counts both kinds: exited, unresponsive.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

import uvicorn

from relay import metrics

logger = logging.getLogger(__name__)

# How long a stopping worker may take to finish its requests before it is killed.
SHUTDOWN_TIMEOUT_SECONDS = 30.0

PING = b"ping"
PONG = b"pong"


class WorkerCannotStart(Exception):
    """A worker died before it started serving: every new one would fail alike."""


def answer_pings(
    connection: Connection, loop: asyncio.AbstractEventLoop, *, on_close: Callable[[], None]
) -> None:
    """The worker's end: answer every ping that comes on `connection` from `loop` (not
    from a thread of its own, as uvicorn's supervisor has it: an answer then proves
    that the loop runs, not only that the process lives). Once the other end is closed,
    stop reading and call `on_close`."""

    def answer() -> None:
        try:
            while connection.poll():
                connection.recv_bytes()
                connection.send_bytes(PONG)
        except (EOFError, OSError):
            loop.remove_reader(connection.fileno())
            on_close()

    loop.add_reader(connection.fileno(), answer)


class Heartbeat:
    """The supervisor's end of one worker's pipe: a ping `interval` after each answer,
    and never a second one while a ping waits (a hung worker reads none: pings piling
    up would fill the pipe, and the next send would block the supervisor)."""

    def __init__(self, connection: Connection, *, interval: float) -> None:
        self.connection = connection
        self._interval = interval
        self._sent_at: float | None = None
        self._answered_at = -math.inf  # never: the first beat pings

    def beat(self, now: float) -> None:
        """Take the worker's answers, then ping it if one is due."""
        try:
            while self.connection.poll():
                self.connection.recv_bytes()
                self._sent_at, self._answered_at = None, now
            if self._sent_at is None and now - self._answered_at >= self._interval:
                self.connection.send_bytes(PING)
                self._sent_at = now
        except (EOFError, OSError):
            pass  # the worker has ended: the supervisor sees its process exit

    def unanswered_for(self, now: float) -> float:
        """Seconds the last ping has waited for its answer; 0 once it has one."""
        return 0.0 if self._sent_at is None else now - self._sent_at


class _WorkerServer(uvicorn.Server):
    """uvicorn's server, telling the supervisor once it has started serving, and then
    answering its heartbeat."""

    def __init__(self, config: uvicorn.Config, ready: EventType, heartbeat: Connection) -> None:
        super().__init__(config)
        self._ready = ready
        self._heartbeat = heartbeat

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            loop = asyncio.get_running_loop()
            answer_pings(self._heartbeat, loop, on_close=self._supervisor_gone)
            self._ready.set()

    def _supervisor_gone(self) -> None:
        # Killed, say: nothing would stop this worker any more, nor replace it.
        logger.warning("The supervisor is gone: stopping")
        self.should_exit = True


def _serve_one(
    app: str,
    sock: socket.socket,
    options: dict[str, Any],
    ready: EventType,
    heartbeat: Connection,
    replacing: str | None,
) -> None:
    """A worker: one uvicorn server on its own socket (runs in a child process).
    `replacing`: why the worker before it on this socket was replaced."""
    if replacing:
        # Counted here, into the metrics directory that /metrics adds up: the
        # supervisor imported prometheus_client before that directory was chosen, so
        # its own counts would stay in its memory, where no /metrics reads them.
        metrics.WORKER_REPLACEMENTS.labels(reason=replacing).inc()
    _WorkerServer(uvicorn.Config(app, **options), ready, heartbeat).run(sockets=[sock])


@dataclass
class _Worker:
    process: BaseProcess
    ready: EventType  # set once it serves
    heartbeat: Heartbeat


class Supervisor:
    """Runs a process of `app` (an import string for uvicorn.Config, with `options`) on
    each of `sockets`, replacing one whose event loop has not answered a ping within
    `heartbeat_timeout` seconds."""

    def __init__(
        self,
        app: str,
        sockets: Sequence[socket.socket],
        *,
        options: dict[str, Any],
        heartbeat_timeout: float,
    ) -> None:
        self._app = app
        self._sockets = sockets
        self._options = options
        self._heartbeat_timeout = heartbeat_timeout
        # A ping soon after each answer, and at least every second the stop flag looked at.
        self._interval = min(1.0, heartbeat_timeout / 2)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        """Serve until SIGINT, SIGTERM, SIGHUP or SIGQUIT; WorkerCannotStart if a worker
        dies before it serves."""
        # SIGHUP's and SIGQUIT's default would end this process alone, leaving its
        # workers serving with no supervisor: each stops them all, as SIGTERM does.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, self._stop)
        try:
            for number in range(len(self._sockets)):
                self._workers.append(self._start(number, replacing=None))
            while not self._stopping.is_set():
                # Wakes when a worker ends or answers, else once an interval: to ping.
                serving = [worker for worker in self._workers if worker.ready.is_set()]
                wait(
                    [worker.process.sentinel for worker in self._workers]
                    + [worker.heartbeat.connection for worker in serving],
                    timeout=self._interval,
                )
                self._restart_the_dead()
                self._replace_the_unresponsive()
        finally:
            self._stop_all()

    def _start(self, number: int, *, replacing: str | None) -> _Worker:
        ready = self._context.Event()
        supervisor_end, worker_end = self._context.Pipe()
        process = self._context.Process(
            target=_serve_one,
            args=(self._app, self._sockets[number], self._options, ready, worker_end, replacing),
            name=f"relay-worker-{number}",
        )
        process.start()
        worker_end.close()  # the worker holds its own: its end closes when it dies
        logger.info("Started worker %d (pid %s)", number, process.pid)
        return _Worker(process, ready, Heartbeat(supervisor_end, interval=self._interval))

    def _replace(self, number: int, *, reason: str) -> None:
        old = self._workers[number]
        old.process.join()
        old.heartbeat.connection.close()
        self._workers[number] = self._start(number, replacing=reason)

    def _restart_the_dead(self) -> None:
        for number, worker in enumerate(self._workers):
            process = worker.process
            if process.is_alive() or self._stopping.is_set():
                continue
            if not worker.ready.is_set():
                # It died before it served (a setting, the app, the database): every
                # new worker would fail alike, so stop, as uvicorn's supervisor does.
                logger.error(
                    "Worker %d exited with code %s before it started serving: stopping",
                    number, process.exitcode,
                )  # fmt: skip
                raise WorkerCannotStart("A worker could not start: see its log lines above")
            logger.warning(
                "Worker %d (pid %s) exited with code %s: starting it again",
                number, process.pid, process.exitcode,
            )  # fmt: skip
            self._replace(number, reason="exited")

    def _replace_the_unresponsive(self) -> None:
        if self._stopping.is_set():
            return  # a new worker now would only be stopped
        now = time.monotonic()
        for number, worker in enumerate(self._workers):
            # Not before it serves, nor once dead: both are _restart_the_dead's.
            if not worker.ready.is_set() or not worker.process.is_alive():
                continue
            worker.heartbeat.beat(now)
            silent_for = worker.heartbeat.unanswered_for(now)
            if silent_for < self._heartbeat_timeout:
                continue
            logger.warning(
                "Worker %d (pid %s) has not answered a heartbeat for %.1f s "
                "(RELAY_WORKER_HEARTBEAT_TIMEOUT=%g): replacing it",
                number, worker.process.pid, silent_for, self._heartbeat_timeout,
            )  # fmt: skip
            # No SIGTERM first: a hung loop would not finish its requests, nor even
            # notice the signal, and waiting would delay every other worker's ping.
            worker.process.kill()
            self._replace(number, reason="unresponsive")

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping.set()

    def _stop_all(self) -> None:
        processes = [worker.process for worker in self._workers]
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes what it has, then exits
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error("Worker pid %s did not stop in time: killed", process.pid)
                process.kill()
                process.join()
        for worker in self._workers:
            worker.heartbeat.connection.close()
