"""relayctl, the installed console script, against a real server: output for people and
for scripts, one-line errors and their exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.live_server import LiveServer, free_port

pytestmark = pytest.mark.backend_independent

RELAYCTL = str(Path(sys.executable).with_name("relayctl"))
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def run(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """relayctl ARGS with only the RELAY_ variables in `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "_RELAYCTL"))}
    return subprocess.run(
        [RELAYCTL, *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def env(live_server: LiveServer, api_key: str) -> dict[str, str]:
    return {"RELAY_API_KEY": api_key, "RELAY_BASE_URL": live_server.base_url}


def test_a_quiet_create_prints_the_key_alone_for_export(env: dict[str, str]) -> None:
    created = run("keys", "create", "--name", "CI", "--quiet", env=env)
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.removesuffix("\n")
    assert new_key.startswith("rl_live_")
    assert len(new_key) == 46
    # export RELAY_API_KEY=$(relayctl keys create --name CI --quiet)
    listed = run("keys", "list", "--json", env=env | {"RELAY_API_KEY": new_key})
    assert [key["name"] for key in json.loads(listed.stdout)] == ["CI", "Initial key"]


def test_a_create_for_people_shows_the_key_once_with_a_warning(env: dict[str, str]) -> None:
    created = run("keys", "create", "--name", "Laptop", "--expires-at", "2031-01-01", env=env)
    assert created.returncode == 0, created.stderr
    key_lines = [line for line in created.stdout.splitlines() if line.startswith("rl_live_")]
    assert len(key_lines) == 1
    assert "2031-01-01 23:59" in created.stdout
    assert "not shown again" in created.stderr


def test_expires_in_sets_the_expiry_from_now(env: dict[str, str]) -> None:
    created = run(
        "keys", "create", "--name", "Contractor", "--expires-in", "90d", "--json", env=env
    )
    expires_at = datetime.fromisoformat(json.loads(created.stdout)["expires_at"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)


def test_keys_list_shows_a_table_and_never_a_key(env: dict[str, str]) -> None:
    listed = run("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Initial key" in listed.stdout
    assert env["RELAY_API_KEY"][:12] in listed.stdout
    assert env["RELAY_API_KEY"] not in listed.stdout


def test_a_revoked_key_fails_with_the_authentication_status(env: dict[str, str]) -> None:
    created = json.loads(run("keys", "create", "--name", "Old", "--json", env=env).stdout)
    revoked = run("keys", "revoke", created["id"], env=env)
    assert (revoked.returncode, revoked.stdout) == (0, f"Revoked key {created['id']}.\n")
    refused = run("datasets", "list", env=env | {"RELAY_API_KEY": created["key"]})
    assert refused.returncode == 3
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("relayctl: error: 401: Invalid or missing API key")


def test_scopes_are_passed_on_and_the_server_refusal_reported(env: dict[str, str]) -> None:
    refused = run("keys", "create", "--name", "Reader", "--scope", "datasets:read", env=env)
    assert refused.returncode == 5
    assert "scopes are not available yet" in refused.stderr


def test_dataset_commands_create_list_get_delete(env: dict[str, str]) -> None:
    created = run(
        "datasets", "create", "Street scenes", "--artifact-type", "bounding_box:#3B82F6",
        "--json", env=env,
    )  # fmt: skip
    dataset = json.loads(created.stdout)
    assert dataset["artifact_types"] == [
        {"name": "bounding_box", "description": None, "color": "#3B82F6"}
    ]
    assert [d["id"] for d in json.loads(run("datasets", "list", "--json", env=env).stdout)] == [
        dataset["id"]
    ]
    shown = run("datasets", "get", dataset["id"], env=env)
    assert "Street scenes" in shown.stdout
    assert "bounding_box" in shown.stdout
    assert run("datasets", "delete", dataset["id"], env=env).returncode == 0
    missing = run("datasets", "get", dataset["id"], env=env)
    assert missing.returncode == 4
    assert missing.stderr.startswith("relayctl: error: 404: Dataset not found (request id ")


def test_datasets_list_says_when_it_shows_only_the_newest(env: dict[str, str]) -> None:
    for name in ("One", "Two", "Three"):
        run("datasets", "create", name, env=env)
    listed = run("datasets", "list", "--limit", "2", "--json", env=env)
    assert [d["name"] for d in json.loads(listed.stdout)] == ["Three", "Two"]
    assert "--all" in listed.stderr


@pytest.mark.parametrize(
    ("env_change", "status", "message"),
    [
        ({"RELAY_API_KEY": ""}, 3, "RELAY_API_KEY environment variable not set"),
        ({"RELAY_API_KEY": "rl_live_" + "x" * 38}, 3, "fails its checksum"),
        ({"RELAY_BASE_URL": f"http://127.0.0.1:{free_port()}"}, 6, "no answer from"),
    ],
)
def test_configuration_and_connection_failures_have_their_own_status(
    env: dict[str, str], env_change: dict[str, str], status: int, message: str
) -> None:
    failed = run("keys", "list", env=env | env_change)
    assert failed.returncode == status
    assert message in failed.stderr
    assert len(failed.stderr.splitlines()) == 1


def test_a_key_with_a_trailing_newline_works_with_a_warning(env: dict[str, str]) -> None:
    listed = run("keys", "list", "--json", env=env | {"RELAY_API_KEY": env["RELAY_API_KEY"] + "\n"})
    assert listed.returncode == 0
    assert listed.stderr.startswith("relayctl: warning: The Relay API key had white space")


def test_usage_mistakes_exit_with_2(env: dict[str, str]) -> None:
    both = run(
        "keys", "create", "--name", "x", "--expires-in", "1d", "--expires-at", "2031-01-01", env=env
    )
    assert both.returncode == 2
    assert run("keys", "create", "--name", "x", "--expires-in", "soon", env=env).returncode == 2
    assert run("keys", "create", "--name", "x", "--quiet", "--json", env=env).returncode == 2


def test_shell_completion_completes_commands() -> None:
    completion = run(
        "",
        env={"_RELAYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "relayctl ke", "COMP_CWORD": "1"},
    )
    assert completion.stdout.split() == ["keys"]
