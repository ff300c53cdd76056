"""Fixtures for the key tests: a second worker on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from tests.auth.workers import ready


@pytest.fixture
async def second_worker(settings: Settings, is_sqlite: bool) -> AsyncIterator[FastAPI]:
    """Another app on the same PostgreSQL database: a second worker or server."""
    if is_sqlite:
        pytest.skip("several workers need PostgreSQL (relay serve refuses them on SQLite)")
    worker = create_app(settings)
    async with worker.router.lifespan_context(worker):
        await ready(worker)
        yield worker
