"""The supervisor of `relay serve --workers N`: a worker that dies is started again, one
whose event loop hangs is replaced (the heartbeat), both counted in /metrics; a stop
signal stops every worker, a killed supervisor's workers stop on their own, and an app
that cannot start is one error, not a loop of restarts."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from multiprocessing import Pipe
from pathlib import Path

import httpx
import pytest

from relay.supervisor import PING, PONG, Heartbeat, answer_pings
from tests.live_server import free_port
from tests.test_serving import GET_PID, ROOT, open_at_once, read_answer, supervisor

# Processes and sockets only: the database the suite runs on plays no part.
pytestmark = pytest.mark.backend_independent

# Generous for a loaded machine: only ever waited for in full when a test fails.
WITHIN_SECONDS = 60


def worker_pids(supervisor_pid: int) -> set[int]:
    """The supervisor's worker processes (its children but multiprocessing's tracker)."""
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text()
    pids = {int(pid) for pid in children.split()}
    return {pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def is_running(pid: int) -> bool:
    """True while `pid` is a process that has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for_line(log: Path, pattern: str, *, after: int = 0) -> re.Match[str]:
    """The first match of `pattern` in the log from character `after` on, once the
    supervisor has written it."""
    deadline = time.monotonic() + WITHIN_SECONDS
    while not (found := re.compile(pattern).search(log.read_text(), after)):
        assert time.monotonic() < deadline, f"no {pattern!r} in:\n{log.read_text()}"
        time.sleep(0.1)
    return found


def replacements_counted(port: int, reason: str) -> float:
    """relay_worker_replacements_total{reason} as the workers' /metrics adds it up."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    found = re.search(rf'^relay_worker_replacements_total{{reason="{reason}"}} (\S+)$', text, re.M)
    return float(found[1]) if found else 0.0


def test_the_ping_is_answered_by_the_event_loop_only_when_it_runs() -> None:
    """Not by a thread of the worker's own: a worker whose loop is blocked is silent."""
    supervisor_end, worker_end = Pipe()
    loop = asyncio.new_event_loop()
    try:
        answer_pings(worker_end, loop, on_close=lambda: None)
        supervisor_end.send_bytes(PING)
        assert not supervisor_end.poll(0.2)  # the loop has not run
        loop.call_soon(loop.stop)
        loop.run_forever()  # one pass: the ping waiting is read, and answered
        assert supervisor_end.poll(WITHIN_SECONDS)
        assert supervisor_end.recv_bytes() == PONG
    finally:
        loop.close()


def test_a_closed_pipe_tells_the_worker_its_supervisor_is_gone() -> None:
    supervisor_end, worker_end = Pipe()
    loop = asyncio.new_event_loop()
    gone: list[bool] = []
    try:
        answer_pings(worker_end, loop, on_close=lambda: gone.append(True))
        supervisor_end.close()
        loop.call_soon(loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert gone == [True]


def test_the_supervisor_pings_once_at_a_time_and_times_the_wait() -> None:
    """A second ping behind an unanswered one would pile up in a hung worker's pipe."""
    supervisor_end, worker_end = Pipe()
    heartbeat = Heartbeat(supervisor_end, interval=1.0)
    heartbeat.beat(now=100.0)
    assert worker_end.recv_bytes() == PING  # the first at once
    heartbeat.beat(now=103.0)
    assert not worker_end.poll()
    assert heartbeat.unanswered_for(now=103.5) == 3.5
    worker_end.send_bytes(PONG)
    heartbeat.beat(now=104.0)
    assert heartbeat.unanswered_for(now=104.0) == 0.0
    heartbeat.beat(now=104.5)
    assert not worker_end.poll()  # the next one interval after the answer
    heartbeat.beat(now=105.0)
    assert worker_end.recv_bytes() == PING


def test_a_worker_whose_event_loop_hangs_is_replaced_and_its_connections_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung worker keeps its socket's share of new connections; its replacement, on the
    same socket, answers those that waited there meanwhile."""
    monkeypatch.setenv("RELAY_WORKER_HEARTBEAT_TIMEOUT", "1")
    log = tmp_path / "supervisor.log"
    with supervisor(workers=2, output=log) as (process, port):
        workers = worker_pids(process.pid)
        blocked = socket.create_connection(("127.0.0.1", port))
        blocked.sendall(b"GET /block HTTP/1.1\r\nHost: test\r\n\r\n")
        hung = int(wait_for_line(log, r"pid (\d+) blocks its event loop")[1])
        assert hung in workers
        # Opened while it hangs: about half wait on its socket, unaccepted.
        waiting = open_at_once(port, 24)
        for connection in waiting:
            connection.sendall(GET_PID)
            connection.settimeout(WITHIN_SECONDS)
        replaced = wait_for_line(
            log,
            rf"Worker (\d) \(pid {hung}\) has not answered a heartbeat for [\d.]+ s "
            r"\(RELAY_WORKER_HEARTBEAT_TIMEOUT=1\): replacing it",
        )
        started = wait_for_line(
            log, rf"Started worker {replaced[1]} \(pid (\d+)\)", after=replaced.end()
        )
        replacement = int(started[1])
        answered_by = {int(read_answer(connection)) for connection in waiting}
        for connection in [blocked, *waiting]:
            connection.close()
        assert hung not in answered_by
        assert replacement in answered_by
        assert replacements_counted(port, "unresponsive") >= 1
        assert replacements_counted(port, "exited") == 0


def test_a_worker_that_dies_is_started_again() -> None:
    with supervisor(workers=2) as (process, port):
        before = worker_pids(process.pid)
        assert len(before) == 2
        dead = min(before)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + WITHIN_SECONDS
        while len(after := worker_pids(process.pid) - {dead}) < 2:
            assert time.monotonic() < deadline, "the worker was not started again"
            time.sleep(0.1)
        # The new worker answers on the socket the dead one left (held open meanwhile).
        answered: set[str] = set()
        while answered != {str(pid) for pid in after}:
            assert time.monotonic() < deadline, f"answered by {answered}, workers {after}"
            answered.add(httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text)
        assert replacements_counted(port, "exited") == 1
    output = process.stdout.read() if process.stdout else ""
    assert f"(pid {dead}) exited with code -9: starting it again" in output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_a_stop_signal_stops_every_worker(signum: signal.Signals) -> None:
    """SIGHUP's and SIGQUIT's defaults once ended the supervisor alone, leaving its
    workers serving with no parent."""
    with supervisor(workers=3) as (process, _):
        workers = worker_pids(process.pid)
        assert len(workers) == 3
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0
    assert not any(is_running(pid) for pid in workers)


def test_the_workers_of_a_killed_supervisor_stop() -> None:
    """SIGKILL leaves the supervisor no time to stop them; their heartbeat's pipe closes,
    and each stops on its own rather than serve on with no one to replace it."""
    with supervisor(workers=2) as (process, _):
        workers = worker_pids(process.pid)
        process.kill()
        process.wait()
        deadline = time.monotonic() + WITHIN_SECONDS
        try:
            while running := {pid for pid in workers if is_running(pid)}:
                assert time.monotonic() < deadline, f"workers {running} still serve"
                time.sleep(0.1)
        finally:
            for pid in workers:
                if is_running(pid):
                    os.kill(pid, signal.SIGKILL)


def test_an_app_that_cannot_start_stops_the_supervisor() -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "tests.serving_app", str(port), "2",
         "tests.serving_app:create_broken_app"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "before it started serving: stopping" in output
    assert "A worker could not start" in output
    assert "starting it again" not in output
