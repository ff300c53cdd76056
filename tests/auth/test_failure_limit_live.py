"""The failed-authentication limit on real servers sharing one Redis: failures on
either server count towards one limit, a valid key is never refused by it, and
while Redis is stopped every server goes on counting on its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from relay.auth.keys import generate_key
from relay.config import Settings
from tests.factories import key_headers
from tests.live_server import LiveServer, run_server
from tests.redis_server import run_redis

pytestmark = pytest.mark.live_server

DATASETS = "/api/v1/datasets"
LIMIT = 6
TOO_MANY = "Too many failed authentication attempts"


def status_with(server: LiveServer, key: str) -> int:
    return httpx.get(f"{server.base_url}{DATASETS}", headers=key_headers(key)).status_code


def bad_key_statuses(server: LiveServer, times: int) -> list[int]:
    """Answers to `times` made-up keys: well formed, with a valid checksum, never
    issued (so each one is looked up and refused)."""
    return [status_with(server, generate_key()) for _ in range(times)]


def test_bad_keys_count_across_servers_and_per_process_while_redis_is_stopped(
    settings: Settings, tmp_path: Path
) -> None:
    # A Redis of this test's own: stopping it must not touch the session's.
    with run_redis() as redis:
        env = {
            "RELAY_REDIS_URL": redis.url,
            "RELAY_AUTH_FAILURE_LIMIT": str(LIMIT),
            # Longer than the test: no failure leaves the window while it runs.
            "RELAY_AUTH_FAILURE_WINDOW": "3600",
        }
        with (
            run_server(settings.database_url, tmp_path / "first.log", env=env) as first,
            run_server(settings.database_url, tmp_path / "second.log", env=env) as second,
        ):
            servers = [first, second]
            valid_key = first.create_tenant()["api_key"]

            # Half the limit on each server: counted per process, neither would refuse.
            for server in servers:
                assert bad_key_statuses(server, LIMIT // 2) == [401] * (LIMIT // 2)
            for server in servers:
                limited = httpx.get(
                    f"{server.base_url}{DATASETS}", headers=key_headers(generate_key())
                )
                assert limited.status_code == 429, server.base_url
                assert TOO_MANY in limited.json()["detail"]
                assert 1 <= int(limited.headers["Retry-After"]) <= 3600
            assert [status_with(server, valid_key) for server in servers] == [200, 200]

            redis.stop()
            assert [status_with(server, valid_key) for server in servers] == [200, 200]
            # Each server now counts alone, from nothing: the full limit on the first
            # does not limit the second.
            for server in servers:
                assert bad_key_statuses(server, LIMIT + 1) == [401] * LIMIT + [429]
            assert [status_with(server, valid_key) for server in servers] == [200, 200]
