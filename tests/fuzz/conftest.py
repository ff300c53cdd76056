"""A real server for the fuzzers, with the per-address failure limit lifted (the
fuzzers send bad keys on purpose), and a tenant key to call it with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.config import Settings
from tests.live_server import LiveServer, run_server


@pytest.fixture(scope="module")
def fuzzed_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """A real server: requests go over HTTP, as a client's would."""
    log_path = tmp_path_factory.mktemp("fuzz") / "relay-serve.log"
    env = {"RELAY_AUTH_FAILURE_LIMIT": str(10**9)}
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server, server.create_tenant()["api_key"]
