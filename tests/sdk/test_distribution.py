"""`pip install ./sdk` in a fresh virtualenv brings no server dependency, and relayctl
works from there right away against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import LiveServer

pytestmark = pytest.mark.backend_independent

SDK = Path(__file__).resolve().parents[2] / "sdk"
# pydantic is not among them: typer (0.29) depends on it, for relayctl. The SDK itself
# does not import it, which the test checks too.
SERVER_ONLY = {"relay", "fastapi", "starlette", "sqlalchemy", "alembic", "asyncpg", "aiosqlite",
               "argon2-cffi", "uvicorn", "pydantic-settings", "jinja2"}  # fmt: skip


def test_pip_install_sdk_pulls_no_server_dependency_and_relayctl_works(
    tmp_path: Path, live_server: LiveServer, api_key: str
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "--quiet", str(SDK)], check=True, timeout=300)

    listed = subprocess.run([*pip, "list", "--format=json"], capture_output=True, check=True)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "relay-sdk" in installed
    assert installed & SERVER_ONLY == set()
    imports = "import sys, relay_sdk; print(sorted({'httpx', 'pydantic'} & set(sys.modules)))"
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", imports], capture_output=True, text=True, check=True
    )
    assert imported.stdout.strip() == "['httpx']"

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")} | {
        "RELAY_API_KEY": api_key,
        "RELAY_BASE_URL": live_server.base_url,
    }
    keys = subprocess.run(
        [str(venv / "bin" / "relayctl"), "keys", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert keys.returncode == 0, keys.stderr
    assert [key["name"] for key in json.loads(keys.stdout)] == ["Initial key"]
