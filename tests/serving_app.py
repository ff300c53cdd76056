"""An app for the supervisor's tests: it answers with the pid of the worker that
served it, so a test can tell the workers apart; GET /metrics, every worker's
figures added up, as Relay's /metrics has them with several workers; GET /block,
never, its worker's event loop blocked on purpose. Run as a module, it serves itself
the way `relay serve --workers N` serves Relay:

    python -m tests.serving_app PORT WORKERS [APP]
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from relay.config import Settings
from relay.serving import serve

Receive = Any
Send = Any

# Long past any test's deadline: the supervisor must replace the worker before.
BLOCKED_FOR_SECONDS = 600


async def answer(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def all_workers_metrics() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def create_app() -> Any:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/block":
            print(f"pid {os.getpid()} blocks its event loop", flush=True)
            time.sleep(BLOCKED_FOR_SECONDS)  # noqa: ASYNC251 - blocking is the point
        if scope["path"] == "/metrics":
            await answer(send, all_workers_metrics())
        else:
            await answer(send, str(os.getpid()).encode())

    return app


def create_reading_app() -> Any:
    """An app that reads the whole body first, as Relay's routes do; it answers with
    the body's length."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await answer(send, str(size).encode())

    return app


def create_broken_app() -> Any:
    raise RuntimeError("this app cannot start")


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    app = sys.argv[3] if len(sys.argv) > 3 else "tests.serving_app:create_app"
    serve(app, Settings(log_level="info"), host="127.0.0.1", port=port, workers=workers)
