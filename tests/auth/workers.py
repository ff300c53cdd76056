"""Waiting on workers: for an app's revocation channel to listen and its key cache's
prewarm to finish, for a change made elsewhere to reach a worker."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI


async def ready(app: FastAPI) -> None:
    """Wait until the app's revocation channel listens (PostgreSQL only) and its key
    cache's prewarm is over: nothing of its start-up reaches the database afterwards
    (a test may count what does)."""
    listener = app.state.revocation_listener
    if listener is not None:
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
    await asyncio.wait_for(app.state.key_prewarm.finished.wait(), timeout=10)


async def first_refusal(client: httpx.AsyncClient, key: str, seconds: float = 5) -> httpx.Response:
    """Ask with `key` until it is refused (at most `seconds`): the first non-200 answer."""
    deadline = time.monotonic() + seconds
    answer = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
    while answer.status_code == 200 and time.monotonic() < deadline:
        answer = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
    return answer


async def first_success(client: httpx.AsyncClient, key: str, seconds: float = 5) -> httpx.Response:
    """Ask with `key` until it is accepted (at most `seconds`): the first 200 answer, or
    the last refusal."""
    deadline = time.monotonic() + seconds
    answer = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
    while answer.status_code != 200 and time.monotonic() < deadline:
        answer = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
    return answer
