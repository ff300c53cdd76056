"""Running a real `relay serve` process, and the `relay` CLI, for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.secret_detector import secret_shapes_in

RELAY = str(Path(sys.executable).with_name("relay"))


def search_path(*, with_venv: bool) -> str:
    """PATH with the venv's bin first, as once it is activated, or without it, as after
    `make install` alone: hints then name `relay` bare, or by the path it was run by."""
    venv_bin = Path(RELAY).parent
    others = [
        entry for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() != venv_bin.resolve()
    ]  # fmt: skip
    return os.pathsep.join([str(venv_bin), *others] if with_venv else others)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Each live server's processes hold smaller pools than the defaults: two test processes
# running servers with several workers at once otherwise came near PostgreSQL's 100
# connections (82 seen), and a connection refused there is a 503 the test did not expect.
_SMALL_POOLS = {"RELAY_DB_POOL_SIZE": "4", "RELAY_DB_READ_POOL_SIZE": "2"}


def relay_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return env | _SMALL_POOLS | {"RELAY_DATABASE_URL": database_url} | extra


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    database_url: str
    log_path: Path

    def create_tenant(self) -> dict[str, str]:
        """`relay tenants create --json` against the server's database."""
        email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
        result = subprocess.run(
            [
                RELAY,
                "tenants",
                "create",
                "--name",
                "Acme",
                "--email",
                email,
                "--password",
                "correct horse battery",
                "--json",
            ],
            env=relay_env(self.database_url),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"relay tenants create failed: {result.stderr}")
        created: dict[str, str] = json.loads(result.stdout)
        return created | {"email": email}


@contextmanager
def run_server(
    database_url: str, log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start `relay serve` on a free port; wait until /healthz answers; stop it after."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The links it hands out (invitations, Link headers) must point at this server.
    env = {"RELAY_PUBLIC_URL": base_url} | (env or {})
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [RELAY, "serve", "--port", str(port), *args],
            env=relay_env(database_url, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"relay serve exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"relay serve did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield LiveServer(base_url=base_url, database_url=database_url, log_path=log_path)
    finally:
        process.terminate()
        process.wait(timeout=15)
    # Whatever the test did, the server's log must hold nothing shaped like a secret.
    found = secret_shapes_in(log_path.read_text(errors="replace"))
    assert not found, f"{log_path} seems to hold secrets: {', '.join(found[:10])}"
