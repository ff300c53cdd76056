"""relayctl against a real server prints what the server sends as plain text: a name
that is Rich markup crashes no list, and control characters (an OSC title, a colour,
a bidi override, CSI on its own, a carriage return) are shown as escapes, never sent
to the terminal; JSON is ASCII and reads back exactly.

Relay's API refuses control characters in names, so those are written to the database
directly, as rows from before that rule (or a server that is not Relay) would hold
them: relayctl trusts no server with its user's terminal.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from relay.audit.models import AuditEvent
from relay.auth.models import ApiKey
from relay.datasets.models import Dataset
from relay.db import Database
from relay_sdk.cli import datasets as datasets_commands
from relay_sdk.cli import main as relayctl_main
from tests.factories import TenantFixture, make_api_key, make_dataset
from tests.sdk.conftest import HOSTILE, SHOWN, assert_nothing_raw, relayctl

pytestmark = pytest.mark.backend_independent

# Each name as relayctl must show it.
NAMES = {
    "[/bold] oops": "[/bold] oops",
    "\x1b]0;pwned\x07title": "\\x1b]0;pwned\\x07title",
    "\x1b[31mred": "\\x1b[31mred",
    "\u202egnp.exe": "\\u202egnp.exe",
    "\x9b2Jcleared": "\\x9b2Jcleared",
    "over\rwritten": "over\\rwritten",
}


async def dataset_named(db: Database, tenant: TenantFixture, name: str) -> str:
    """A dataset called `name`, in its row and its audit event; returns its id."""
    dataset = await make_dataset(db, tenant, name="placeholder")
    async with db.sessionmaker.begin() as session:
        await session.execute(update(Dataset).where(Dataset.id == dataset.id).values(name=name))
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.target_id == str(dataset.id))
            .values(target_name=name)
        )
    return str(dataset.id)


async def key_named(db: Database, tenant: TenantFixture, name: str) -> str:
    key_id, _ = await make_api_key(db, tenant, name="placeholder")
    async with db.sessionmaker.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(name=name))
    return str(key_id)


async def test_a_name_that_is_markup_is_created_and_listed_as_it_is(env: dict[str, str]) -> None:
    """The review's case: any key with datasets:write could stop every list of its tenant."""
    created = await relayctl("datasets", "create", "[/bold] oops", env=env)
    assert created.returncode == 0, created.stderr
    assert "[/bold] oops" in created.stdout
    for command in (("datasets", "list"), ("audit", "list")):
        listed = await relayctl(*command, env=env)
        assert listed.returncode == 0, listed.stderr
        assert "[/bold] oops" in listed.stdout


async def test_dataset_names_print_literally_with_controls_escaped(
    db: Database, tenant_a: TenantFixture, env: dict[str, str]
) -> None:
    ids = {name: await dataset_named(db, tenant_a, name) for name in NAMES}

    for command in (("datasets", "list"), ("audit", "list", "--action", "dataset.created")):
        listed = await relayctl(*command, env=env)
        assert listed.returncode == 0, listed.stderr
        assert_nothing_raw(listed.stdout, listed.stderr)
        for escaped in NAMES.values():
            assert escaped in listed.stdout
    for name, dataset_id in ids.items():
        got = await relayctl("datasets", "get", dataset_id, env=env)
        assert got.returncode == 0, got.stderr
        assert_nothing_raw(got.stdout, got.stderr)
        assert NAMES[name] in got.stdout

    as_json = await relayctl("datasets", "list", "--json", env=env)
    assert as_json.stdout.isascii()
    assert {dataset["name"] for dataset in json.loads(as_json.stdout)} == set(NAMES)


async def test_key_names_print_literally_with_controls_escaped(
    db: Database, tenant_a: TenantFixture, env: dict[str, str]
) -> None:
    ids = {name: await key_named(db, tenant_a, name) for name in NAMES}

    listed = await relayctl("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert_nothing_raw(listed.stdout, listed.stderr)
    for escaped in NAMES.values():
        assert escaped in listed.stdout
    for name, key_id in ids.items():
        got = await relayctl("keys", "get", key_id, env=env)
        assert got.returncode == 0, got.stderr
        assert_nothing_raw(got.stdout, got.stderr)
        assert NAMES[name] in got.stdout


async def test_a_terminal_that_is_not_utf8_gets_escapes_not_a_crash(
    env: dict[str, str],
) -> None:
    await relayctl("datasets", "create", "Café ☕", env=env)
    listed = await relayctl("datasets", "list", env=env | {"PYTHONIOENCODING": "ascii"})
    assert listed.returncode == 0, listed.stderr
    assert "Caf\\xe9 \\u2615" in listed.stdout


class _NotRelay(BaseHTTPRequestHandler):
    """A server that answers every request with a 404 whose detail and request id
    hold markup and control characters (Relay's 404s never quote input)."""

    def do_GET(self) -> None:
        body = json.dumps({"detail": HOSTILE}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-ID", "\x9b2J[/i]")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads relayctl's output, not the server's."""


@pytest.fixture
def not_relay() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotRelay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


async def test_an_error_detail_from_the_server_is_one_escaped_line(
    env: dict[str, str], not_relay: str
) -> None:
    failed = await relayctl(
        "datasets", "get", str(uuid.uuid4()), env=env | {"RELAY_BASE_URL": not_relay}
    )
    assert failed.returncode == 4
    assert failed.stdout == ""
    assert failed.stderr == f"relayctl: error: 404: {SHOWN} (request id \\x9b2J[/i])\n"


def test_a_bugs_traceback_is_printed_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug is still a traceback, written by output like everything else (Typer's own
    would print its message as it is)."""

    def broken_connect() -> None:
        raise RuntimeError(HOSTILE)

    monkeypatch.setattr(datasets_commands, "connect", broken_connect)
    monkeypatch.setattr(sys, "argv", ["relayctl", "datasets", "list"])
    with pytest.raises(SystemExit) as exited:
        relayctl_main()
    assert exited.value.code == 1
    printed = capsys.readouterr()
    assert printed.err.endswith(f"RuntimeError: {SHOWN}\n")
    assert_nothing_raw(printed.out, printed.err)
