"""`relayctl scan --report`: what a scan finds goes to a Relay server as a signed leak
report, and the key stops working there at once (self-hosted use)."""

from __future__ import annotations

from pathlib import Path

import httpx

from relay.config import Settings
from relay.db import Database
from tests.leaks.reporter import Reporter
from tests.live_server import run_server
from tests.sdk.conftest import run_relayctl


def test_a_key_found_by_the_scanner_is_reported_and_revoked(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    # `db`: its clean-up after the test deletes the tenant the server made.
    reporter = Reporter("laptop")
    signing_key = tmp_path / "reporter.pem"
    signing_key.write_bytes(reporter.pem())
    env = {"RELAY_LEAK_REPORTER_KEYS": reporter.setting}
    with run_server(settings.database_url, tmp_path / "serve.log", env=env) as server:
        key = server.create_tenant()["api_key"]
        project = tmp_path / "project"
        project.mkdir()
        (project / "settings.py").write_text(f'API_KEY = "{key}"\n')
        url = f"{server.base_url}/api/v1/leaked-keys"
        args = ("scan", str(project), "--report", url, "--signing-key", str(signing_key))

        refused = run_relayctl(*args, "--reporter-key-id", "someone-else", env={})
        assert refused.returncode == 3, refused.stderr
        assert "answered 401" in refused.stderr
        datasets = f"{server.base_url}/api/v1/datasets"
        assert httpx.get(datasets, headers={"X-API-Key": key}).status_code == 200

        reported = run_relayctl(*args, "--reporter-key-id", "laptop", env={})
        assert reported.returncode == 1  # keys were found
        assert f"relayctl scan: reported 1 key to {url}\n" in reported.stderr
        assert key not in reported.stdout + reported.stderr
        assert httpx.get(datasets, headers={"X-API-Key": key}).status_code == 401


def test_report_needs_a_signing_key(tmp_path: Path) -> None:
    result = run_relayctl("scan", str(tmp_path), "--report", "http://127.0.0.1:9/", env={})
    assert result.returncode == 2
    assert "--report needs --signing-key" in result.stderr
