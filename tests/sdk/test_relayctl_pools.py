"""relayctl pools, and keys create/update --pool, against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sdk.conftest import relayctl

pytestmark = pytest.mark.backend_independent


async def run_json(env: dict[str, str], *arguments: str) -> Any:
    done = await relayctl(*arguments, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_a_pool_is_made_filled_changed_emptied_and_deleted(env: dict[str, str]) -> None:
    pool = await run_json(
        env, "pools", "create", "--name", "Acme mobile app", "--rate-limit", "600/60s",
        "--quota", "1000/day",
    )  # fmt: skip
    assert pool["rate_limit"] == {"requests": 600, "per_seconds": 60}
    assert (pool["quota"]["requests"], pool["quota"]["period"]) == (1000, "day")
    key = await run_json(env, "keys", "create", "--name", "Phone", "--pool", pool["id"])
    assert key["pool_id"] == pool["id"]

    listed = await relayctl("pools", "list", env=env)
    assert "Acme mobile app" in listed.stdout
    assert "600/1m" in listed.stdout
    shown = await relayctl("pools", "get", pool["id"], env=env)
    assert "1000 of 1000/day left" in shown.stdout
    changed = await run_json(env, "pools", "update", pool["id"], "--no-quota", "--name", "iOS")
    assert (changed["name"], changed["quota"], changed["key_count"]) == ("iOS", None, 1)

    refused = await relayctl("pools", "delete", pool["id"], env=env)
    assert refused.returncode == 1
    assert "Limit pool has 1 key" in refused.stderr
    moved = await run_json(env, "keys", "update", key["id"], "--no-pool")
    assert moved["pool_id"] is None
    deleted = await relayctl("pools", "delete", pool["id"], env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == f"Limit pool {pool['id']} deleted.\n"


async def test_pool_options_refuse_contradictions(env: dict[str, str]) -> None:
    pool = await run_json(env, "pools", "create", "--name", "Shared")
    for arguments in (
        ("pools", "update", pool["id"]),
        ("pools", "update", pool["id"], "--quota", "5/day", "--no-quota"),
        ("pools", "create", "--name", "x", "--quota", "5/week"),
        ("keys", "update", pool["id"], "--pool", pool["id"], "--no-pool"),
    ):
        refused = await relayctl(*arguments, env=env)
        assert refused.returncode == 2, arguments
        assert refused.stderr.startswith("relayctl: error:"), refused.stderr
