"""Every example of the documentation runs as shown: each page's shell and Python
blocks, in order, against a live `relay serve` with a tenant of the page's own, and
what a page shows a block printing is what it prints (tests/docs/examples.py says
how a page marks that). The docs cannot drift from the product."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs.examples import DOCS, Example, examples_of, output_matches, pages, value_at
from tests.live_server import LiveServer, run_server

pytestmark = pytest.mark.backend_independent

BLOCK_TIMEOUT = 120.0
VENV_BIN = str(Path(sys.executable).parent)
PAGES = [page for page in pages() if any(not e.skip for e in examples_of(page))]


class Shell:
    """One bash for a page: a block's variables are there for the next."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._cwd = cwd
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            text=True,
        )
        self._send("set -o pipefail\n")

    def _send(self, text: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(text)
        self._process.stdin.flush()

    def run(self, code: str) -> tuple[int, str, str]:
        """Run `code` in the page's shell: (exit status, stdout, stderr)."""
        block, out, err = (
            self._cwd / f".block-{uuid.uuid4().hex}{suffix}" for suffix in ("", ".out", ".err")
        )
        block.write_text(code)
        marker = uuid.uuid4().hex
        self._send(f"source {block} >{out} 2>{err}; echo {marker} $?\n")
        status = self._wait_for(marker)
        return status, out.read_text(), err.read_text()

    def set(self, name: str, value: str) -> None:
        self._send(f"export {name}={json.dumps(value)}\n")

    def _wait_for(self, marker: str) -> int:
        assert self._process.stdout is not None
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while True:
            ready, _, _ = select.select([self._process.stdout], [], [], 1.0)
            if ready:
                line = self._process.stdout.readline()
                if not line:
                    raise AssertionError("the page's shell exited")
                if line.startswith(marker):
                    return int(line.split()[1])
            if time.monotonic() > deadline:
                raise AssertionError(f"a block ran for more than {BLOCK_TIMEOUT:g} s")

    def close(self) -> None:
        self._process.kill()
        self._process.wait()


@contextlib.contextmanager
def page_environment(
    server: LiveServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """What a reader has after the quick start: a server, a key, the commands."""
    tenant = server.create_tenant()
    env = {
        "RELAY_URL": server.base_url,
        "RELAY_BASE_URL": server.base_url,
        "RELAY_API_KEY": tenant["api_key"],
        "RELAY_DATABASE_URL": server.database_url,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(workdir)
    yield os.environ.copy()


def run_python(code: str, namespace: dict[str, Any], example: Example) -> tuple[int, str, str]:
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, str(example), "exec"), namespace)  # noqa: S102 - the docs' own code
    except Exception:
        return 1, printed.getvalue(), traceback.format_exc()
    return 0, printed.getvalue(), ""


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of the docs' own, on a new database: the pages' examples make what a
    reader would (you@example.com's tenant among them) and nothing else is there."""
    folder = tmp_path_factory.mktemp("docs")
    env = {"RELAY_SIGNUP_LIMIT": "100000", "RELAY_SIGNIN_ATTEMPT_LIMIT": "100000"}
    with run_server(f"sqlite:///{folder / 'relay.db'}", folder / "serve.log", env=env) as server:
        yield server


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(DOCS.parent)) for page in PAGES])
def test_the_examples_of_a_page_run_as_shown(
    page: Path, docs_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with page_environment(docs_server, tmp_path, monkeypatch) as env:
        shell = Shell(env, tmp_path)
        namespace: dict[str, Any] = {"__name__": "__docs__"}
        try:
            for example in examples_of(page):
                if example.skip:
                    continue
                if example.language == "sh":
                    status, out, err = shell.run(example.code)
                else:
                    status, out, err = run_python(example.code, namespace, example)
                assert status == example.exit_status, (
                    f"{example} exited {status}\n--- stdout\n{out}--- stderr\n{err}"
                )
                if example.output is not None:
                    assert output_matches(example, out), (
                        f"{example} printed\n{out}\n--- the page shows\n{example.output}"
                    )
                for name, path in example.sets:
                    value = str(value_at(json.loads(out), path))
                    shell.set(name, value)
                    namespace[name] = value
        finally:
            shell.close()


def test_the_docs_have_examples_to_run() -> None:
    """A page layout change that hid every block from the runner would pass above."""
    assert len(PAGES) >= 5
    assert sum(len(examples_of(page)) for page in PAGES) >= 30
