"""Fixtures of the webhook tests: the app with a server key (to seal signing secrets),
private addresses allowed (the receiver is on loopback) and a short back-off, and a
real receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from tests.conftest import emptied
from tests.webhooks.receiver import Receiver, run_receiver

SERVER_KEY = "webhook-tests-server-key-0123456789abcdef"
ENDPOINTS = "/api/v1/webhook-endpoints"
WEBHOOK_SETTINGS: dict[str, Any] = {
    "secret_key": SERVER_KEY,
    "webhook_allow_private": True,
    "webhook_retry_base": 0.2,
    "webhook_poll_interval": 0.05,
}


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update=WEBHOOK_SETTINGS)


@pytest.fixture
async def app(webhook_settings: Settings) -> AsyncIterator[FastAPI]:
    """The suite's app (see tests/conftest.py), set for webhooks."""
    application = create_app(webhook_settings)
    async with application.router.lifespan_context(application):
        yield application
    await emptied(webhook_settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as running:
        yield running


async def register(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    url: str,
    events: list[str] | None = None,
) -> dict[str, Any]:
    """An endpoint made through the API (201 expected), with its secret."""
    response = await client.post(
        ENDPOINTS, json={"url": url, "events": events or ["*"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries_when(
    client: httpx.AsyncClient,
    endpoint_id: str,
    headers: dict[str, str],
    ready: Callable[[list[dict[str, Any]]], bool],
    within: float = 15.0,
) -> list[dict[str, Any]]:
    """The endpoint's deliveries (newest first) once there are some and `ready` says
    so of them; AssertionError after `within` seconds."""
    path = f"{ENDPOINTS}/{endpoint_id}/deliveries"
    deadline = time.monotonic() + within
    while True:
        items: list[dict[str, Any]] = (await client.get(path, headers=headers)).json()["items"]
        if items and ready(items):
            return items
        assert time.monotonic() < deadline, f"deliveries never got there: {items}"
        await asyncio.sleep(0.02)
