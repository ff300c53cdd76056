"""What the fuzzers run against: a real server, or an app in this process, with the
per-address limits lifted (the fuzzers send bad keys, sign-ins and sign-ups on
purpose, and a 429 would answer them before the code under test runs), and a tenant
key to call it with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from relay.accounts import sign_in
from relay.app import create_app
from relay.config import Settings
from relay.tenants import passwords
from tests.auth.workers import ready
from tests.live_server import LiveServer, run_server

FUZZ_SERVER_KEY = "fuzz-server-key-0123456789abcdef0123456789"
# A webhook endpoint for the fuzzers to aim at: loopback, nothing listening.
FUZZ_ENDPOINT = {"url": "http://127.0.0.1:9/fuzz", "events": ["dataset.deleted"]}
# The settings every fuzzed server runs with. The sign-in failures per address are a
# fixed rule, not a setting: the dashboard fuzzers send each request from an address
# of its own, through a trusted proxy (tests.fuzz.common.from_new_address), and there
# is no back-off per email. Webhook endpoints can be made (their secrets sealed), on
# loopback only: the one the fuzzers aim at listens nowhere (port 9), so its
# deliveries fail and retry.
LIFTED: dict[str, Any] = {
    **{
        f"{limit}_limit": 10**9
        for limit in ("auth_failure", "signin_attempt", "signup", "password_reset", "email",
                      "invitation")
    },
    "trusted_proxies": "127.0.0.1/32",
    "signin_backoff_max": 0,
    "secret_key": FUZZ_SERVER_KEY,
    "webhook_allow_private": True,
}  # fmt: skip


def as_environment(overrides: dict[str, Any]) -> dict[str, str]:
    """Settings as `relay serve` reads them from its environment."""
    return {
        f"RELAY_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in overrides.items()
    }


@pytest.fixture(scope="module")
def fuzzed_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """A real server: requests go over HTTP, as a client's would."""
    log_path = tmp_path_factory.mktemp("fuzz") / "relay-serve.log"
    with run_server(settings.database_url, log_path, env=as_environment(LIFTED)) as server:
        yield server, server.create_tenant()["api_key"]


@pytest.fixture
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed at argon2's lowest cost: the in-process fuzzers sign up, sign
    in and change passwords thousands of times, and 0.2 s a hash would be most of their
    run. What is fuzzed is the text around the hash, not its cost."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(sign_in, "DECOY_HASH", cheap.hash("decoy password that matches nothing"))


@asynccontextmanager
async def running_app(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    """An app in this process with the fuzzers' settings (and `overrides`), started.
    The caller asks for the `db` fixture too, whose app empties the tables after."""
    app = create_app(settings.model_copy(update=LIFTED | overrides))
    async with app.router.lifespan_context(app):
        await ready(app)
        yield app
