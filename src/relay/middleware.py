"""ASGI middleware shared by the API and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.errors import error_response

BODY_TOO_LARGE = "Request body too large"
# What is read and thrown away of a refused body before answering, at most. A client
# that writes its whole body before reading (httpx, requests, most HTTP libraries)
# only sees the 413 if the server reads what it sent: closing a socket with unread
# data makes the kernel send a reset, which can destroy the 413 before it is read.
# Past these bounds the 413 goes out with `Connection: close`, as nginx's
# lingering close does.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_LIMIT_SECONDS = 10.0


async def _drain(receive: Receive) -> bool:
    """Read and discard the rest of the request body; True when it all arrived."""
    drained = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_LIMIT_SECONDS):
            while drained <= DRAIN_LIMIT_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return False  # the client went away
                drained += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    return False


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    code: str,
    keep_alive: bool,
) -> None:
    headers = {} if keep_alive else {"Connection": "close"}
    response = error_response(detail, code, status, headers)
    await response(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(
                scope, receive, send, 400, "Invalid Content-Length header", "bad_request", False
            )
            return
        if declared is not None and int(declared) > self.max_bytes:
            # With "Expect: 100-continue" the client waits for a go-ahead before
            # sending the body: it gets the 413 instead, and nothing is drained.
            waiting = headers.get(b"expect", b"").lower() == b"100-continue"
            complete = False if waiting else await _drain(receive)
            await _refuse(scope, receive, send, 413, BODY_TOO_LARGE, "request_too_large", complete)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    complete = not message.get("more_body", False) or await _drain(receive)
                    # FastAPI re-raises an HTTPException from body reading, so
                    # the client gets a JSON 413 and the route never runs.
                    close = {} if complete else {"Connection": "close"}
                    raise HTTPException(status_code=413, detail=BODY_TOO_LARGE, headers=close)
            return message

        await self.app(scope, limited_receive, send)
