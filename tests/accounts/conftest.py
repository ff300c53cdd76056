"""An app as an operator who wants account security runs it: RELAY_SECRET_KEY set
(two-factor sign-in needs it) and mail through a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from tests.conftest import asgi_client
from tests.mail_server import SENDER, MailServer

SECRET_KEY = "test-secret-key-of-the-account-security-tests-0123456789"


def secure_settings(settings: Settings, mail_server: MailServer, **overrides: object) -> Settings:
    return settings.model_copy(
        update={"secret_key": SECRET_KEY, "smtp_url": mail_server.url, "smtp_from": SENDER}
        | overrides
    )


@pytest.fixture
async def secure_app(
    settings: Settings, db: Database, mail_server: MailServer
) -> AsyncIterator[FastAPI]:
    """The app with a secret key and mail (`db`: the standard app's clean-up runs after
    the test)."""
    app = create_app(secure_settings(settings, mail_server))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser_a(secure_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(secure_app, "198.51.100.10") as client:
        yield client


@pytest.fixture
async def browser_b(secure_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(secure_app, "203.0.113.20") as client:
        yield client
