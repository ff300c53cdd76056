"""tools/provision.py: what `make test` runs first, so a fresh clone needs nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tools of the project, not of the server: nothing here touches a database.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]
PROVISION = str(ROOT / "tools" / "provision.py")


def provision(*args: str, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the tool with nothing on PATH but an empty folder: no Chromium, no apt-get."""
    base = {k: v for k, v in os.environ.items() if k not in {"PATH", "RELAY_CHROMIUM"}}
    return subprocess.run(
        [sys.executable, PROVISION, *args],
        env=base | {"PATH": str(path)} | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_missing_chromium_stops_before_the_tests_with_one_line_naming_the_fix(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = provision(
        "chromium",
        path=empty,
        # Playwright's own browser is looked for (and downloaded) here, from a host
        # that refuses at once, so the download fails on any network.
        PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "browsers"),
        PLAYWRIGHT_DOWNLOAD_HOST="http://127.0.0.1:9",
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "sudo apt-get install chromium" in errors[0]
    assert "playwright install chromium" in errors[0]


def test_a_chromium_on_path_is_used_without_installing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = provision("chromium", path=bin_dir)
    assert result.returncode == 0, result.stderr
    assert "provision:" not in result.stderr  # nothing was installed


def test_relay_chromium_that_is_not_a_program_is_named(tmp_path: Path) -> None:
    result = provision("chromium", path=tmp_path, RELAY_CHROMIUM=str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "RELAY_CHROMIUM" in result.stderr


def test_missing_program_names_the_debian_package(tmp_path: Path) -> None:
    result = provision("wrk", path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: wrk is needed by the HTTP benchmarks and could not be installed here: "
        "run `sudo apt-get install wrk`, then `make test` again."
    )


def test_contract_tools_without_node_stop_with_one_line_naming_the_fix(tmp_path: Path) -> None:
    """Redocly CLI 2 runs on Node 20.19+ or 22.12+: without one, the contract test's
    tools are refused here, not by a failing test later."""
    empty = tmp_path / "bin"
    empty.mkdir()
    result = provision("contract-tools", path=empty)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "tests/contract" in errors[0]
    assert "make test" in errors[0]
