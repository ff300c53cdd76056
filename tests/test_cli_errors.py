"""The `relay` command as a user runs it, making mistakes: each is one line on stderr
(or one JSON object with --json) and exit status 1, never a traceback. Every command
that needs the schema migrates first."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from relay.auth import keys
from tests.live_server import RELAY, relay_env, search_path

# These use databases of their own: running them again on PostgreSQL proves nothing.
pytestmark = pytest.mark.backend_independent

PASSWORD = "correct horse battery"


def run_relay(
    database_url: str, *args: str, stdin: str | None = None, with_venv_on_path: bool = False
) -> subprocess.CompletedProcess[str]:
    """The installed `relay` command, as a user runs it: by its path (the venv's bin on
    no PATH), or by its name in an activated venv."""
    return subprocess.run(
        [RELAY, *args],
        env=relay_env(database_url, PATH=search_path(with_venv=with_venv_on_path)),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0]


CREATE = ("tenants", "create", "--name", "Acme", "--password-stdin")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ("tenants", "create", "--name", "Acme"),
            "Missing option '--email'. See 'relay tenants create --help'.",
        ),
        (("serve", "--wrkers", "2"), "No such option: --wrkers (Possible options: --workers)."),
        (("serve", "--workers", "two"), "Invalid value for '--workers'"),
    ],
    ids=["missing-option", "unknown-option", "bad-value"],
)
def test_a_usage_mistake_is_one_line_or_one_json_object(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    """Click's own answer was a framed box of four lines, and ignored --json."""
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    result = run_relay(url, *args, with_venv_on_path=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ")
    assert words in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("tenants", "create", "--name", "Acme"),
         "Error: Missing option '--email'. See '{relay} tenants create --help'."),
        (("serv",), "Error: No such command 'serv'. Did you mean 'serve', 'users'? "
                    "See '{relay} --help'."),
    ],
    ids=["missing-option", "unknown-command"],
)  # fmt: skip
@pytest.mark.parametrize("with_venv_on_path", [True, False], ids=["activated", "by-path"])
def test_a_usage_mistake_names_the_help_command_as_it_runs(
    tmp_path: Path, args: tuple[str, ...], said: str, with_venv_on_path: bool
) -> None:
    """`relay` once the venv is activated; else the path it was started by, so that the
    hint runs as printed. A question keeps its question mark."""
    result = run_relay(
        f"sqlite:///{tmp_path / 'unused.db'}", *args, with_venv_on_path=with_venv_on_path
    )
    relay = "relay" if with_venv_on_path else RELAY
    assert (result.returncode, result.stderr) == (2, said.format(relay=relay) + "\n")


def test_a_usage_mistake_with_json_is_one_json_object(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    result = run_relay(url, "tenants", "create", "--name", "Acme", "--json")
    assert (result.returncode, result.stderr) == (2, "")
    assert json.loads(result.stdout) == {"error": "Missing option '--email'."}


def test_tenants_create_on_a_never_migrated_database_migrates_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run_relay(url, *CREATE, "--email", "a@b.test", "--json", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert keys.is_well_formed(json.loads(result.stdout)["api_key"])


@pytest.mark.parametrize(
    ("database_url", "words"),
    [
        ("mysql://localhost/relay", ["RELAY_DATABASE_URL", "Unsupported database URL"]),
        ("postgresql://postgres@127.0.0.1:1/relay", ["Cannot use the database", "127.0.0.1:1"]),
        ("sqlite:////proc/no-such-dir/relay.db", ["Cannot use the database"]),
    ],
    ids=["unsupported-url", "database-down", "unwritable-file"],
)
def test_configuration_mistakes_are_one_line_without_a_traceback(
    database_url: str, words: list[str]
) -> None:
    for command in (("db", "upgrade"), ("serve",), (*CREATE, "--email", "a@b.test")):
        assert_one_line_error(run_relay(database_url, *command, stdin=PASSWORD + "\n"), *words)


def test_database_password_is_not_printed_in_the_error() -> None:
    result = run_relay("postgresql://postgres:hunter2secret@127.0.0.1:1/relay", "db", "upgrade")
    assert_one_line_error(result, "postgres:***@")
    assert "hunter2secret" not in result.stderr


def test_json_mode_prints_the_error_as_one_object(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    args = (*CREATE, "--email", "dup@b.test", "--json")
    assert run_relay(url, *args, stdin=PASSWORD + "\n").returncode == 0
    duplicate = run_relay(url, *args, stdin=PASSWORD + "\n")
    assert duplicate.returncode == 1
    assert json.loads(duplicate.stdout) == {"error": "A user with this email already exists"}
    short = run_relay(url, *CREATE, "--email", "new@b.test", "--json", stdin="short\n")
    assert json.loads(short.stdout) == {"error": "Password must be at least 10 characters"}


def test_schema_from_a_newer_relay_is_refused_in_one_line(tmp_path: Path) -> None:
    database_file = tmp_path / "relay.db"
    url = f"sqlite:///{database_file}"
    assert run_relay(url, "db", "upgrade").returncode == 0
    with sqlite3.connect(database_file) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    for command in (("db", "upgrade"), ("serve",), (*CREATE, "--email", "a@b.test")):
        result = run_relay(url, *command, stdin=PASSWORD + "\n")
        assert_one_line_error(result, "revision ffffffffffff", "newer Relay")


def test_serve_without_migrating_names_the_command_to_run(tmp_path: Path) -> None:
    result = run_relay(f"sqlite:///{tmp_path / 'relay.db'}", "serve", "--no-migrate")
    assert_one_line_error(result, f"run `{RELAY} db upgrade` (or `{RELAY} serve` without")


def test_password_stdin_keeps_the_password_off_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    piped = run_relay(url, *CREATE, "--email", "a@b.test", stdin=PASSWORD + "\n")
    assert piped.returncode == 0
    assert "Warning" not in piped.stderr
    on_command_line = run_relay(
        url, "tenants", "create", "--name", "B", "--email", "b@b.test", "--password", PASSWORD
    )
    assert on_command_line.returncode == 0
    assert "--password is visible to other users" in on_command_line.stderr
