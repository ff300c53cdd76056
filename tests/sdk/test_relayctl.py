"""relayctl, the installed console script, against a real server: output for people and
for scripts, one-line errors and their exit statuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.live_server import free_port, search_path
from tests.sdk.conftest import RELAYCTL, relayctl, run_relayctl

pytestmark = pytest.mark.backend_independent


async def test_a_quiet_create_prints_the_key_alone_for_export(env: dict[str, str]) -> None:
    created = await relayctl("keys", "create", "--name", "CI", "--quiet", env=env)
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.removesuffix("\n")
    assert new_key.startswith("rl_live_")
    assert len(new_key) == 46
    # export RELAY_API_KEY=$(relayctl keys create --name CI --quiet)
    listed = await relayctl("keys", "list", "--json", env=env | {"RELAY_API_KEY": new_key})
    assert [key["name"] for key in json.loads(listed.stdout)] == ["CI", "Initial key"]


async def test_a_create_for_people_shows_the_key_once_with_a_warning(env: dict[str, str]) -> None:
    created = await relayctl(
        "keys", "create", "--name", "Laptop", "--expires-at", "2031-01-01", env=env
    )
    assert created.returncode == 0, created.stderr
    key_lines = [line for line in created.stdout.splitlines() if line.startswith("rl_live_")]
    assert len(key_lines) == 1
    assert "2031-01-01 23:59" in created.stdout
    assert "not shown again" in created.stderr


async def test_expires_in_sets_the_expiry_from_now(env: dict[str, str]) -> None:
    created = await relayctl(
        "keys", "create", "--name", "Contractor", "--expires-in", "90d", "--json", env=env
    )
    expires_at = datetime.fromisoformat(json.loads(created.stdout)["expires_at"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)


async def test_keys_list_shows_a_table_and_never_a_key(env: dict[str, str]) -> None:
    listed = await relayctl("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Initial key" in listed.stdout
    assert env["RELAY_API_KEY"][:12] in listed.stdout
    assert env["RELAY_API_KEY"] not in listed.stdout


async def test_a_revoked_key_fails_with_the_authentication_status(env: dict[str, str]) -> None:
    created = json.loads(
        (await relayctl("keys", "create", "--name", "Old", "--json", env=env)).stdout
    )
    revoked = await relayctl("keys", "revoke", created["id"], env=env)
    assert (revoked.returncode, revoked.stdout) == (0, f"Revoked key {created['id']}.\n")
    refused = await relayctl("datasets", "list", env=env | {"RELAY_API_KEY": created["key"]})
    assert refused.returncode == 3
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith("relayctl: error: 401: Invalid or missing API key")


async def test_create_with_scopes_makes_a_key_limited_to_them(env: dict[str, str]) -> None:
    created = await relayctl(
        "keys", "create", "--name", "Reader", "--scope", "datasets:read", "--scope", "audit:read",
        "--json", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    reader = json.loads(created.stdout)
    assert reader["scopes"] == ["datasets:read", "audit:read"]
    refused = await relayctl("datasets", "create", "x", env=env | {"RELAY_API_KEY": reader["key"]})
    assert refused.returncode == 3  # 403, like 401: the key may not
    assert "403: Insufficient permissions: requires datasets:write" in refused.stderr


async def test_dataset_commands_create_list_get_delete(env: dict[str, str]) -> None:
    created = await relayctl(
        "datasets", "create", "Street scenes", "--artifact-type", "bounding_box:#3B82F6",
        "--json", env=env,
    )  # fmt: skip
    dataset = json.loads(created.stdout)
    assert dataset["artifact_types"] == [
        {"name": "bounding_box", "description": None, "color": "#3B82F6"}
    ]
    listed = await relayctl("datasets", "list", "--json", env=env)
    assert [d["id"] for d in json.loads(listed.stdout)] == [dataset["id"]]
    shown = await relayctl("datasets", "get", dataset["id"], env=env)
    assert "Street scenes" in shown.stdout
    assert "bounding_box" in shown.stdout
    assert (await relayctl("datasets", "delete", dataset["id"], env=env)).returncode == 0
    missing = await relayctl("datasets", "get", dataset["id"], env=env)
    assert missing.returncode == 4
    assert missing.stderr.startswith("relayctl: error: 404: Dataset not found (request id ")


async def test_datasets_list_says_when_it_shows_only_the_newest(env: dict[str, str]) -> None:
    for name in ("One", "Two", "Three"):
        await relayctl("datasets", "create", name, env=env)
    listed = await relayctl("datasets", "list", "--limit", "2", "--json", env=env)
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
async def test_configuration_and_connection_failures_have_their_own_status(
    env: dict[str, str], env_change: dict[str, str], status: int, message: str
) -> None:
    failed = await relayctl("keys", "list", env=env | env_change)
    assert failed.returncode == status
    assert message in failed.stderr
    assert len(failed.stderr.splitlines()) == 1


async def test_a_key_with_a_trailing_newline_works_with_a_warning(env: dict[str, str]) -> None:
    listed = await relayctl(
        "keys", "list", "--json", env=env | {"RELAY_API_KEY": env["RELAY_API_KEY"] + "\n"}
    )
    assert listed.returncode == 0
    assert listed.stderr.startswith("relayctl: warning: The Relay API key had white space")


async def test_usage_mistakes_exit_with_2(env: dict[str, str]) -> None:
    both = await relayctl(
        "keys", "create", "--name", "x", "--expires-in", "1d", "--expires-at", "2031-01-01", env=env
    )
    not_a_duration = await relayctl(
        "keys", "create", "--name", "x", "--expires-in", "soon", env=env
    )
    quiet_and_json = await relayctl("keys", "create", "--name", "x", "--quiet", "--json", env=env)
    assert (both.returncode, not_a_duration.returncode, quiet_and_json.returncode) == (2, 2, 2)


async def test_shell_completion_completes_commands() -> None:
    completion = await relayctl(
        "",
        env={"_RELAYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "relayctl ke", "COMP_CWORD": "1"},
    )
    assert completion.stdout.split() == ["keys"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("keys", "rotate"), "Missing argument 'ID'. See '{relayctl} keys rotate --help'."),
        (("keys", "rotat"),
         "No such command 'rotat'. Did you mean 'rotate'? See '{relayctl} keys --help'."),
    ],
    ids=["missing-argument", "unknown-command"],
)  # fmt: skip
@pytest.mark.parametrize("with_venv_on_path", [True, False], ids=["activated", "by-path"])
def test_a_usage_mistake_names_the_help_command_as_it_runs(
    args: tuple[str, ...], said: str, with_venv_on_path: bool
) -> None:
    """`relayctl` when the shell finds it by name; else the path it was started by."""
    refused = run_relayctl(*args, env={"PATH": search_path(with_venv=with_venv_on_path)})
    relayctl_as_run = "relayctl" if with_venv_on_path else RELAYCTL
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f"relayctl: error: {said.format(relayctl=relayctl_as_run)}\n"
