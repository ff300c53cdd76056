"""A real HTTP receiver of webhooks on 127.0.0.1 (a thread of this process), that keeps
what it was sent and answers each request with the next status it was told (200 once
those run out; a 3xx points to REDIRECTED on the receiver itself, so that a redirect
followed would show); and waiting for deliveries with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDIRECTED = "/redirected"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._statuses: list[int] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, host: str = "127.0.0.1", path: str = "/hooks") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order."""
        with self._lock:
            self._statuses += statuses

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def _take(self, received: Received) -> int:
        with self._lock:
            self._received.append(received)
            return self._statuses.pop(0) if self._statuses else 200

    async def arrived(self, count: int, within: float = 15.0) -> list[Received]:
        """What was received, once it is at least `count` requests (AssertionError
        after `within` seconds)."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} arrived"
            await asyncio.sleep(0.02)
        return self.received

    def arrived_sync(self, count: int, timeout: float = 30.0) -> list[Received]:
        """`arrived`, for a test without an event loop."""
        return self.received_when(lambda received: len(received) >= count, timeout)

    def received_when(
        self, ready: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        """What was received, once `ready` says so of it (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while not ready(received := self.received):
            assert time.monotonic() < deadline, f"{len(received)} arrived, not yet ready"
            time.sleep(0.05)
        return received


@contextmanager
def run_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver._take(Received(self.path, dict(self.headers.items()), body))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.url(path=REDIRECTED))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        # Several senders connect at once: a backlog of 5 reset some of them.
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
