"""The `relay` command: tenants create, db upgrade, serve's refusals, --version; the
help screens of both CLIs; `make run`."""

from __future__ import annotations

import asyncio
import base64
import inspect as source
import json
import os
import shutil
import socket
import subprocess
import tomllib
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, inspect, select, text, update
from typer.main import get_command
from typer.testing import CliRunner

from relay import cli
from relay.audit.models import AuditEvent
from relay.auth import keys
from relay.auth.models import ApiKey
from relay.config import Settings, get_settings
from relay.db import Database, utcnow
from relay.tenants import roles
from relay.tenants.models import User
from relay_sdk.cli.app import app as relayctl_app
from tests import live_server

runner = CliRunner()
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the CLI at a database URL through RELAY_DATABASE_URL."""

    def point_at(url: str) -> None:
        monkeypatch.setenv("RELAY_DATABASE_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


@pytest.fixture
def relay_env(settings: Settings, use_database: Callable[[str], None]) -> Settings:
    use_database(settings.database_url)
    return settings


async def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    # The CLI runs its own event loop, so it runs in a thread beside the test's.
    result = await asyncio.to_thread(runner.invoke, cli.app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def new_email() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}@Example.com"


async def test_tenants_create_json_prints_one_object_with_a_working_key(
    relay_env: Settings, db: Database
) -> None:
    email = new_email()
    code, out, _ = await invoke(
        "tenants", "create", "--name", "Acme", "--email", email, "--password", PASSWORD, "--json"
    )
    assert code == 0
    created = json.loads(out)
    assert set(created) == {"tenant_id", "user_id", "api_key_id", "api_key"}
    assert keys.is_well_formed(created["api_key"])

    async with db.sessionmaker() as session:
        api_key = await session.get(ApiKey, uuid.UUID(created["api_key_id"]))
        user = await session.get(User, uuid.UUID(created["user_id"]))
        everything = repr((await session.execute(text("SELECT * FROM users"))).all()) + repr(
            (await session.execute(text("SELECT * FROM api_keys"))).all()
        )
    assert api_key is not None
    assert user is not None
    assert api_key.name == "Initial key"
    assert api_key.key_hash == keys.hash_key(created["api_key"])
    assert str(api_key.tenant_id) == created["tenant_id"] == str(user.tenant_id)
    assert user.email == email.lower()
    assert user.role == "owner"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in everything
    assert created["api_key"] not in everything


async def test_tenants_create_prints_the_key_once_in_plain_mode(relay_env: Settings) -> None:
    code, out, _ = await invoke(
        "tenants", "create", "--name", "Acme", "--email", new_email(), "--password", PASSWORD
    )
    assert code == 0
    printed = [line for line in out.splitlines() if line.startswith("rl_live_")]
    assert len(printed) == 1
    assert keys.is_well_formed(printed[0])


async def test_password_prompt_is_hidden(relay_env: Settings, db: Database) -> None:
    email = new_email()
    code, out, _ = await invoke(
        "tenants", "create", "--name", "Acme", "--email", email, input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0
    assert "Password" in out
    assert PASSWORD not in out
    async with db.sessionmaker() as session:
        assert await session.scalar(select(User.id).where(User.email == email.lower()))


async def test_duplicate_email_is_a_clear_error_with_exit_code_1(relay_env: Settings) -> None:
    email = new_email()
    args = ["tenants", "create", "--name", "Acme", "--password", PASSWORD]
    assert (await invoke(*args, "--email", email))[0] == 0
    code, out, err = await invoke(*args, "--email", email.upper())
    assert code == 1
    assert "A user with this email already exists" in err
    assert "rl_live_" not in out


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", PASSWORD, "Enter a valid email address"),
        ("ok@example.com", "short", "Password must be at least 10 characters"),
    ],
)
async def test_bad_email_or_short_password_is_refused(
    relay_env: Settings, email: str, password: str, message: str
) -> None:
    code, _, err = await invoke(
        "tenants", "create", "--name", "Acme", "--email", email, "--password", password
    )
    assert code == 1
    assert message in err


async def test_db_upgrade_creates_the_schema_on_an_empty_database(
    tmp_path: Path, use_database: Callable[[str], None]
) -> None:
    database_file = tmp_path / "nested" / "fresh.db"
    use_database(f"sqlite:///{database_file}")
    code, out, _ = await invoke("db", "upgrade")
    assert code == 0, out
    database = Database(Settings(database_url=f"sqlite:///{database_file}"))
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await database.dispose()
    assert {"tenants", "users", "api_keys", "datasets", "alembic_version"} <= set(tables)


async def test_serve_refuses_several_workers_on_sqlite(
    tmp_path: Path, use_database: Callable[[str], None]
) -> None:
    use_database(f"sqlite:///{tmp_path / 'x.db'}")
    code, _, err = await invoke("serve", "--workers", "2")
    assert code == 1
    assert "--workers > 1 needs PostgreSQL" in err


async def test_audit_prune_deletes_events_older_than_the_retention(
    relay_env: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.sessionmaker.begin() as session:
        await session.execute(delete(AuditEvent))  # left by tests without the app fixture
    code, out, _ = await invoke(
        "tenants", "create", "--name", "Acme", "--email", new_email(), "--password", PASSWORD
    )
    assert code == 0
    async with db.sessionmaker.begin() as session:
        await session.execute(update(AuditEvent).values(at=utcnow() - timedelta(days=10)))
    monkeypatch.setenv("RELAY_AUDIT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    assert (await invoke("audit", "prune"))[1].strip() == (
        "Deleted 0 audit events older than 30 days."
    )
    monkeypatch.setenv("RELAY_AUDIT_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    code, out, _ = await invoke("audit", "prune")
    assert (code, out.strip()) == (0, "Deleted 1 audit event older than 7 days.")


async def test_secret_key_prints_a_fresh_256_bit_key() -> None:
    keys_printed = {(await invoke("secret-key"))[1].strip() for _ in range(2)}
    assert len(keys_printed) == 2
    for key in keys_printed:
        assert len(base64.urlsafe_b64decode(key + "=")) == 32


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_on_an_address_in_use_is_one_line_and_exit_status_4(
    settings: Settings, workers: int
) -> None:
    """Once six JSON lines (the app started, then stopped) and exit status 3. Several
    workers go through the supervisor, which binds the address first too."""
    if workers > 1 and settings.is_sqlite:
        pytest.skip("several workers need PostgreSQL")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [live_server.RELAY, "serve", "--port", str(port), "--workers", str(workers)],
            env=live_server.relay_env(settings.database_url),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert (result.returncode, result.stdout) == (cli.CANNOT_LISTEN, "")
    assert cli.CANNOT_LISTEN == 4  # documented in docs/operations/running.md
    assert result.stderr == (
        f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another port: --port, or RELAY_PORT)\n"
    )


def test_version_is_the_distributions_own() -> None:
    """`relay --version` and `relayctl --version`: relay's from pyproject.toml,
    relay-sdk's from sdk/pyproject.toml."""
    for program, pyproject, said in [
        (live_server.RELAY, ROOT / "pyproject.toml", "relay {}"),
        (str(Path(live_server.RELAY).with_name("relayctl")), ROOT / "sdk" / "pyproject.toml",
         "relayctl, from relay-sdk {}"),
    ]:  # fmt: skip
        version = tomllib.loads(pyproject.read_text())["project"]["version"]
        shown = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == said.format(version) + "\n"


def _commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, subcommand in getattr(command, "commands", {}).items():
        yield from _commands(subcommand, f"{path} {name}")


def test_no_help_paragraph_is_broken_across_source_lines() -> None:
    """Typer's help screens keep a docstring's line breaks (in a group's list of
    commands, and after a command's first paragraph): `relayctl keys --help` showed
    rotate's summary cut after "printed", and four `relay` commands alike. Each
    paragraph of help is one line of source."""
    for name, app in [("relay", cli.app), ("relayctl", relayctl_app)]:
        for path, command in _commands(get_command(app), name):
            for paragraph in source.cleandoc(command.help or "").split("\n\n"):
                assert "\n" not in paragraph, f"{path}: {paragraph!r}"
            for parameter in command.params:
                assert "\n" not in (getattr(parameter, "help", None) or ""), path


def test_tenants_create_help_names_what_to_prefer_to_password() -> None:
    """It said "prefer the two below", where one option follows and the prompt is none."""
    create = get_command(cli.app).commands["tenants"].commands["create"]  # type: ignore[attr-defined]
    (password,) = [parameter for parameter in create.params if parameter.name == "password"]
    assert password.help.endswith("prefer --password-stdin or the prompt.")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_takes_a_port() -> None:
    """`make run PORT=9000`; without PORT, relay serve reads RELAY_PORT itself."""
    # Run from `make test`, the nested make would say which directory it enters.
    outer = ("PORT", "RELAY_PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    for args, command in [(["PORT=9000"], ".venv/bin/relay serve --port 9000"),
                          ([], ".venv/bin/relay serve")]:  # fmt: skip
        shown = subprocess.run(
            ["make", "--dry-run", "--no-print-directory", "run", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines()[-1].rstrip() == command


async def test_roles_prints_each_roles_permissions_and_with_pages_what_each_page_needs(
    relay_env: Settings,
) -> None:
    """`relay roles`: the table of issue 23 (owner, admin, developer, viewer by
    permission); --pages adds every dashboard page with what it needs, as the app
    declares it (none may read NOTHING DECLARED)."""
    code, out, _ = await invoke("roles")
    assert code == 0
    assert "Member roles" in out
    assert "Dashboard pages" not in out
    for name in (*roles.ROLE_NAMES.values(), *roles.PERMISSIONS):
        assert name in out
    code, out, _ = await invoke("roles", "--pages")
    assert code == 0
    assert "Dashboard pages" in out
    assert "/settings/api-keys" in out
    assert "NOTHING DECLARED" not in out
