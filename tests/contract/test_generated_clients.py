"""/openapi.json as tools take it, against a live server: Redocly's recommended rules
pass (every one an error; the one exception is justified in
tools/contract/.redocly.lint-ignore.yaml), and two clients generated from the
document walk the guide (create a key, list keys, use it to list, create, patch, page
and delete datasets, revoke it and read the 401 as an error with its code): Python
with openapi-python-client, TypeScript with openapi-typescript and openapi-fetch,
checked by `tsc --noEmit` and run by Node.

The tools are provisioned by `make test` (tools/provision.py contract-tools).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer

# The HTTP contract, the same whichever database serves it.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "contract"
BIN = TOOLS / "node_modules" / ".bin"
GENERATOR = TOOLS / ".venv" / "bin"
PROVISION = "run `.venv/bin/python tools/provision.py contract-tools` (make test does)"
# Nothing of the tools may reach out: no update notice, no usage data.
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "CI": "true"}


def run(command: list[str], cwd: Path, **env: str) -> str:
    """Run a tool; its output, or a failure that shows it."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=os.environ | QUIET | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


@pytest.fixture
def document(live_server: LiveServer, tmp_path: Path) -> Path:
    """The live server's /openapi.json, written to a folder of its own."""
    for tool in (BIN / "redocly", BIN / "tsc", GENERATOR / "openapi-python-client"):
        assert tool.exists(), f"{tool.relative_to(ROOT)} is missing: {PROVISION}"
    folder = tmp_path / "document"
    folder.mkdir()
    path = folder / "openapi.json"
    spec = httpx.get(f"{live_server.base_url}/openapi.json", timeout=10).json()
    path.write_text(json.dumps(spec, indent=1))
    return path


def test_the_document_passes_redoclys_recommended_rules(document: Path) -> None:
    for config in ("redocly.yaml", ".redocly.lint-ignore.yaml"):
        shutil.copy(TOOLS / config, document.parent)
    output = run([str(BIN / "redocly"), "lint", document.name], cwd=document.parent)
    assert "Your API description is valid" in output
    assert "1 problem is explicitly ignored" in output  # /healthz has no 4xx, on purpose


def test_a_generated_python_client_walks_the_guide(
    document: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "python"
    out.mkdir()
    run(
        [
            str(GENERATOR / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--config",
            str(TOOLS / "python-client.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(out / "relay_client"),
        ],
        cwd=out,
        # Its post-hooks run ruff: the generator environment's own.
        PATH=f"{GENERATOR}{os.pathsep}{os.environ['PATH']}",
    )
    walked = run(
        [sys.executable, str(Path(__file__).with_name("walk_python_client.py"))],
        cwd=out,
        PYTHONPATH=str(out),
        RELAY_BASE_URL=live_server.base_url,
        RELAY_API_KEY=live_server.create_tenant()["api_key"],
    )
    assert walked.strip() == "walked"


def test_a_generated_typescript_client_walks_the_guide(
    document: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "typescript"
    out.mkdir()
    (out / "node_modules").symlink_to(TOOLS / "node_modules")
    (out / "package.json").write_text('{"type": "module", "private": true}\n')
    for source in ("tsconfig.json", "walk.ts"):
        shutil.copy(TOOLS / source, out)
    run([str(BIN / "openapi-typescript"), str(document), "-o", "schema.d.ts"], cwd=out)
    run([str(BIN / "tsc"), "--noEmit", "-p", "."], cwd=out)
    run([str(BIN / "tsc"), "-p", "."], cwd=out)
    walked = run(
        ["node", "build/walk.js"],
        cwd=out,
        RELAY_BASE_URL=live_server.base_url,
        RELAY_API_KEY=live_server.create_tenant()["api_key"],
    )
    assert walked.strip() == "walked"
