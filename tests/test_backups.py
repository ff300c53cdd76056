"""`relay db backup` and `relay db restore` (relay.backups): a backup taken while a real
server takes writes restores to a sound database holding every write acknowledged before
the backup began, which `relay db upgrade` then runs on; what could lose data is refused
(restoring under a running server, a file that is not a Relay database, a newer Relay's
backup, overwriting a file without --force); on PostgreSQL the commands name pg_dump and
pg_restore instead, without the password."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from relay.config import Settings
from relay.migrations import alembic_config, upgrade_database
from tests.factories import key_headers
from tests.live_server import RELAY, LiveServer, relay_env, run_server

DATASETS = "/api/v1/datasets"
# This Relay's schema revision, and the one before it (the chain is one line).
_HEAD = ScriptDirectory.from_config(alembic_config(Settings())).get_revision("head")
HEAD, BEFORE_HEAD = _HEAD.revision, str(_HEAD.down_revision)


def relay(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `relay` command on the SQLite file `database`."""
    return run_relay(f"sqlite:///{database}", *args)


def run_relay(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RELAY, *args],
        env=relay_env(database_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(query).fetchall()


def migrated(database: Path, revision: str = "head") -> Path:
    upgrade_database(Settings(database_url=f"sqlite:///{database}"), revision)
    return database


@dataclass
class Writer:
    """Creates datasets through the API, one after another, until stopped: the name of
    each one acknowledged (201), with the monotonic time its answer arrived."""

    server: LiveServer
    headers: dict[str, str]
    acknowledged: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.server.base_url, headers=self.headers) as client:
            number = 0
            while not self.stop.is_set():
                name = f"written-{number}"
                answer = client.post(DATASETS, json={"name": name}, timeout=30)
                if answer.status_code == 201:
                    self.acknowledged.append((name, time.monotonic()))
                else:
                    self.failures.append(f"{answer.status_code} {answer.text}")
                number += 1

    def wait_for(self, count: int, *, after: float = 0.0) -> None:
        """Until `count` writes have been acknowledged after the time `after`."""
        deadline = time.monotonic() + 60
        while sum(1 for _, at in list(self.acknowledged) if at > after) < count:
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, "the writes stopped being acknowledged"
            time.sleep(0.01)  # polling, with a deadline, for the writer thread's answers


@contextmanager
def writing(server: LiveServer) -> Iterator[Writer]:
    writer = Writer(server, key_headers(server.create_tenant()["api_key"]))
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(timeout=60)


@pytest.mark.backend_independent
def test_a_backup_under_writes_restores_every_write_acknowledged_before_it(
    tmp_path: Path,
) -> None:
    database, backup = tmp_path / "relay.db", tmp_path / "backup.db"
    with (
        run_server(f"sqlite:///{database}", tmp_path / "serve.log") as server,
        writing(server) as writer,
    ):
        writer.wait_for(50)
        started = time.monotonic()
        made = relay(database, "db", "backup", str(backup))
        finished = time.monotonic()
        writer.wait_for(20, after=finished)  # the server took writes all along
    assert made.returncode == 0, made.stderr
    assert f"Backed up to {backup} (" in made.stdout
    assert f"{backup.stat().st_size:,} bytes, schema revision {HEAD})" in made.stdout
    assert not writer.failures
    assert any(started < at < finished for _, at in writer.acknowledged)  # writes went on
    assert [path.name for path in tmp_path.glob("*.partial")] == []

    restored = tmp_path / "fresh" / "relay.db"
    put_back = relay(restored, "db", "restore", str(backup))
    assert put_back.returncode == 0, put_back.stderr
    assert "kept as" not in put_back.stdout  # there was nothing to keep
    upgraded = relay(restored, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr

    assert rows(restored, "PRAGMA integrity_check") == [("ok",)]
    present = {name for (name,) in rows(restored, "SELECT name FROM datasets")}
    before = {name for name, at in writer.acknowledged if at < started}
    assert len(before) >= 50
    assert before <= present
    # Nothing but acknowledged writes, none acknowledged after the backup ended.
    assert present <= {name for name, _ in writer.acknowledged}
    assert not {name for name, at in writer.acknowledged if at > finished} & present


@pytest.mark.backend_independent
def test_restore_is_refused_while_a_server_holds_the_database(tmp_path: Path) -> None:
    database, backup = tmp_path / "relay.db", tmp_path / "backup.db"
    with run_server(f"sqlite:///{database}", tmp_path / "serve.log") as server:
        tenant = server.create_tenant()
        assert relay(database, "db", "backup", str(backup)).returncode == 0
        refused = relay(database, "db", "restore", str(backup))
        assert refused.returncode == 1
        assert refused.stderr == (
            f"Error: The database {database} is in use (by `relay serve`? Litestream?): "
            "stop what holds it, then restore.\n"
        )
        # The server goes on as before, and kept nothing aside.
        listed = httpx.get(f"{server.base_url}{DATASETS}", headers=key_headers(tenant["api_key"]))
        assert listed.status_code == 200
    assert list(tmp_path.glob("*.before-restore-*")) == []


@pytest.mark.backend_independent
def test_restore_keeps_the_database_as_it_was_and_says_to_upgrade_an_older_backup(
    tmp_path: Path,
) -> None:
    older, backup = migrated(tmp_path / "older.db", BEFORE_HEAD), tmp_path / "backup.db"
    made = relay(older, "db", "backup", str(backup))
    assert f"schema revision {BEFORE_HEAD})" in made.stdout
    database = migrated(tmp_path / "relay.db")
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE written_before_restore (n)")

    put_back = relay(database, "db", "restore", str(backup))

    assert put_back.returncode == 0, put_back.stderr
    (kept,) = tmp_path.glob("relay.db.before-restore-*")
    assert f"The database as it was is kept as {kept}." in put_back.stdout
    assert f"older than this Relay's ({HEAD}): run `" in put_back.stdout
    assert " db upgrade` before serving" in put_back.stdout
    assert rows(kept, "SELECT count(*) FROM written_before_restore") == [(0,)]
    assert rows(database, "SELECT version_num FROM alembic_version") == [(BEFORE_HEAD,)]
    assert relay(database, "db", "upgrade").returncode == 0
    assert rows(database, "SELECT version_num FROM alembic_version") == [(HEAD,)]


@pytest.mark.backend_independent
def test_restore_refuses_a_backup_made_by_a_newer_relay(tmp_path: Path) -> None:
    backup = migrated(tmp_path / "backup.db")
    with closing(sqlite3.connect(backup)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    database = tmp_path / "relay.db"

    refused = relay(database, "db", "restore", str(backup))

    assert refused.returncode == 1
    assert f"{backup} holds schema revision 9999, which Relay" in refused.stderr
    assert "a newer Relay made it, and this one cannot run it" in refused.stderr
    assert not database.exists()


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"name,value\n1,2\n", "is not a SQLite database: nothing was restored."),
        (None, "is not a Relay database (no schema revision in it)."),
    ],
    ids=["not-sqlite", "not-relay"],
)
def test_restore_refuses_a_file_that_is_not_a_relay_database(
    tmp_path: Path, content: bytes | None, said: str
) -> None:
    backup = tmp_path / "backup.db"
    if content is None:
        with closing(sqlite3.connect(backup)) as connection, connection:
            connection.execute("CREATE TABLE notes (text)")
    else:
        backup.write_bytes(content)
    database = migrated(tmp_path / "relay.db")

    refused = relay(database, "db", "restore", str(backup))

    assert refused.returncode == 1
    assert refused.stderr == f"Error: {backup} {said}\n"
    assert rows(database, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert list(tmp_path.glob("*.before-restore-*")) == []


@pytest.mark.backend_independent
def test_backup_replaces_an_existing_file_only_with_force(tmp_path: Path) -> None:
    database, backup = migrated(tmp_path / "relay.db"), tmp_path / "backup.db"
    backup.write_text("an older backup\n")

    refused = relay(database, "db", "backup", str(backup))

    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: {backup} exists: name another file, or replace it with --force.\n"
    )
    assert backup.read_text() == "an older backup\n"
    replaced = relay(database, "db", "backup", str(backup), "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert rows(backup, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert list(tmp_path.glob("*.partial")) == []


# The commands never connect to PostgreSQL: a URL with a password in it is the test.
@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("command", "told"),
    [
        ("backup", "use pg_dump: pg_dump --format=custom --file={path} {url} (it asks"),
        ("restore", "use pg_restore: pg_restore --clean --if-exists {url} {path} (it asks"),
    ],
)
def test_on_postgresql_the_commands_name_its_tools_without_the_password(
    tmp_path: Path, command: str, told: str
) -> None:
    dump = tmp_path / "relay.dump"
    url = "postgresql://relay:s3cret-pa55@db.example:5432/relay?sslmode=require"

    answer = run_relay(url, "db", command, str(dump))

    assert answer.returncode == 1
    without_password = "postgresql://relay@db.example:5432/relay?sslmode=require"
    shown = told.format(path=dump, url=shlex.quote(f"--dbname={without_password}"))
    assert shown in answer.stderr
    assert "s3cret" not in answer.stdout + answer.stderr
    assert not dump.exists()
