"""A real server for the fuzzers, with the per-address limits lifted (the fuzzers send
bad keys, sign-ins and sign-ups on purpose, and a 429 would answer them before the
code under test runs), and a tenant key to call it with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.config import Settings
from tests.live_server import LiveServer, run_server

FUZZ_SERVER_KEY = "fuzz-server-key-0123456789abcdef0123456789"
# A webhook endpoint for the fuzzers to aim at: loopback, nothing listening.
FUZZ_ENDPOINT = {"url": "http://127.0.0.1:9/fuzz", "events": ["dataset.deleted"]}


@pytest.fixture(scope="module")
def fuzzed_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """A real server: requests go over HTTP, as a client's would."""
    log_path = tmp_path_factory.mktemp("fuzz") / "relay-serve.log"
    lifted = str(10**9)
    limits = ["AUTH_FAILURE", "SIGNIN_ATTEMPT", "SIGNUP", "PASSWORD_RESET", "EMAIL", "INVITATION"]
    env = {f"RELAY_{limit}_LIMIT": lifted for limit in limits}
    # The sign-in failures per address are a fixed rule, not a setting: the dashboard
    # fuzzer sends each request from an address of its own, through a trusted proxy.
    env["RELAY_TRUSTED_PROXIES"] = "127.0.0.1/32"
    env["RELAY_SIGNIN_BACKOFF_MAX"] = "0"  # and no back-off per email
    # Webhook endpoints can be made (their secrets sealed), on loopback only: the one
    # the fuzzers aim at listens nowhere (port 9), so its deliveries fail and retry.
    env["RELAY_SECRET_KEY"] = FUZZ_SERVER_KEY
    env["RELAY_WEBHOOK_ALLOW_PRIVATE"] = "true"
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server, server.create_tenant()["api_key"]
