"""The authentication guide, walked with curl and Python against a real `relay serve`.

The guide's host is swapped for the local server. Its example expiry dates
(2025-12-31, 2024-03-31) are in the past now, and Relay refuses a past expiry
with 422, so the walk-through uses the same dates a few years on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from relay.config import Settings
from tests.live_server import LiveServer, run_server

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
GUIDE_PYTHON_SNIPPET = """
import os

API_KEY = os.environ.get("RELAY_API_KEY")
if not API_KEY:
    raise ValueError("RELAY_API_KEY environment variable not set")
"""


def curl(*args: str) -> tuple[int, str]:
    """Run curl as the guide does; returns (HTTP status, body)."""
    result = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def curl_create_key(api: str, relay_api_key: str, body: str) -> tuple[int, str]:
    """The guide's create call: POST /auth/api-keys with a JSON body."""
    return curl(
        "-X", "POST", f"{api}/auth/api-keys",
        "-H", f"X-API-Key: {relay_api_key}",
        "-H", "Content-Type: application/json",
        "-d", body,
    )  # fmt: skip


def test_every_curl_in_the_guide(live_server: LiveServer) -> None:
    api = f"{live_server.base_url}/api/v1"
    relay_api_key = live_server.create_tenant()["api_key"]

    # Creating API keys > Via the API
    status, body = curl_create_key(
        api,
        relay_api_key,
        '{\n    "name": "Production Server",\n    "expires_at": "2030-12-31T23:59:59Z"\n  }',
    )
    assert status == 201
    created = json.loads(body)
    assert set(created) == {
        "id",
        "name",
        "key_prefix",
        "key",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert created["name"] == "Production Server"
    assert created["key"].startswith("rl_live_")
    assert created["key_prefix"] == created["key"][:12]
    assert created["scopes"] == []
    assert ISO_UTC.fullmatch(created["created_at"])
    assert created["expires_at"] == "2030-12-31T23:59:59Z"
    assert created["last_used_at"] is None

    # Using API keys
    status, body = curl(f"{api}/datasets", "-H", f"X-API-Key: {created['key']}")
    assert status == 200
    assert json.loads(body)["items"] == []

    # Listing API keys: a bare array, without the key; last_used_at shows the use.
    deadline = time.monotonic() + 5
    while True:
        status, body = curl(f"{api}/auth/api-keys", "-H", f"X-API-Key: {relay_api_key}")
        listed = {item["id"]: item for item in json.loads(body)}
        if listed[created["id"]]["last_used_at"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
    assert created["key"] not in body
    assert set(listed[created["id"]]) == set(created) - {"key"}
    assert ISO_UTC.fullmatch(listed[created["id"]]["last_used_at"])

    # Revoking API keys: 204, then any request with it gets 401.
    status, body = curl(
        "-X", "DELETE", f"{api}/auth/api-keys/{created['id']}", "-H", f"X-API-Key: {relay_api_key}"
    )
    assert (status, body) == (204, "")
    status, body = curl(f"{api}/datasets", "-H", f"X-API-Key: {created['key']}")
    assert status == 401
    # The guide's body, exactly, and the code a program decides by.
    assert json.loads(body) == {"detail": "Invalid or missing API key", "code": "invalid_api_key"}

    # Error responses: no header at all.
    status, body = curl(f"{api}/datasets")
    assert (status, json.loads(body)["detail"]) == (401, "Invalid or missing API key")

    # Set expiration dates: "Contractor Access"
    status, body = curl_create_key(
        api,
        relay_api_key,
        '{\n    "name": "Contractor Access",\n    "expires_at": "2030-03-31T23:59:59Z"\n  }',
    )
    assert status == 201
    assert json.loads(body)["expires_at"] == "2030-03-31T23:59:59Z"


def test_key_stops_at_its_expiry_over_http(live_server: LiveServer) -> None:
    api = f"{live_server.base_url}/api/v1"
    relay_api_key = live_server.create_tenant()["api_key"]
    expires = datetime.now(UTC) + timedelta(seconds=2)
    _, body = curl_create_key(
        api, relay_api_key, json.dumps({"name": "Short-lived", "expires_at": expires.isoformat()})
    )
    short_lived = json.loads(body)["key"]
    assert curl(f"{api}/datasets", "-H", f"X-API-Key: {short_lived}")[0] == 200

    # Waits on the wall clock, which is what expiry is about.
    while datetime.now(UTC) < expires:
        time.sleep(0.1)
    status, body = curl(f"{api}/datasets", "-H", f"X-API-Key: {short_lived}")
    assert (status, json.loads(body)) == (
        401,
        {"detail": "API key expired", "code": "api_key_expired"},
    )


def test_guide_python_snippet_reads_the_key_from_the_environment(live_server: LiveServer) -> None:
    relay_api_key = live_server.create_tenant()["api_key"]
    env = {k: v for k, v in os.environ.items() if k != "RELAY_API_KEY"}
    use_it = GUIDE_PYTHON_SNIPPET + (
        "from relay_sdk import Relay\nprint(Relay(API_KEY).datasets.list().total)\n"
    )

    with_key = subprocess.run(
        [sys.executable, "-c", use_it],
        env=env | {"RELAY_API_KEY": relay_api_key, "RELAY_BASE_URL": live_server.base_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert with_key.returncode == 0, with_key.stderr
    assert with_key.stdout.strip() == "0"

    without_key = subprocess.run(
        [sys.executable, "-c", GUIDE_PYTHON_SNIPPET],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert without_key.returncode == 1
    assert "ValueError: RELAY_API_KEY environment variable not set" in without_key.stderr


def test_key_never_appears_in_the_server_log(live_server: LiveServer) -> None:
    relay_api_key = live_server.create_tenant()["api_key"]
    curl(f"{live_server.base_url}/api/v1/datasets", "-H", f"X-API-Key: {relay_api_key}")
    curl(f"{live_server.base_url}/api/v1/datasets", "-H", f"X-API-Key: {relay_api_key[:-1]}x")
    log = live_server.log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(
        line.get("route") == "/api/v1/datasets" and line.get("key_prefix") == relay_api_key[:12]
        for line in lines
    )
    assert relay_api_key[12:] not in log


def test_serve_on_an_empty_database_says_how_to_create_the_first_tenant(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'empty.db'}"
    with run_server(database_url, tmp_path / "serve.log") as server:
        assert "relay tenants create --name" in server.log_path.read_text()
        assert (tmp_path / "empty.db").exists()


def test_metrics_add_up_across_workers(settings: Settings, tmp_path: Path) -> None:
    if settings.is_sqlite:
        pytest.skip("several workers need PostgreSQL (relay serve refuses them on SQLite)")
    token = {"Authorization": "Bearer metrics-e2e"}
    log_path = tmp_path / "serve.log"
    env = {"RELAY_METRICS_TOKEN": "metrics-e2e"}
    with run_server(settings.database_url, log_path, "--workers", "2", env=env) as server:
        for _ in range(40):  # a new connection each, so both workers answer some
            httpx.get(f"{server.base_url}/api/v1/datasets")
        text = httpx.get(f"{server.base_url}/metrics", headers=token).text
    line = 'relay_http_requests_total{method="GET",route="/api/v1/datasets",status="401"}'
    assert f"{line} 40.0" in text
