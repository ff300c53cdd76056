"""relayctl's key commands beyond create and revoke, against a real server: rotate (for a
time or until the old key goes quiet), update, get (with who used the key and the scopes
it needed), usage, a list longer than a page, and a key over its rate limit."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from relay.db import Database
from relay_sdk.cli.values import format_rate_limit, parse_rate_limit
from relay_sdk.models import parse_timestamp
from tests.factories import TenantFixture, make_api_key
from tests.sdk.conftest import record_uses, relayctl

pytestmark = pytest.mark.backend_independent

MISSING_ID = "00000000-0000-4000-8000-000000000000"


async def create_key(env: dict[str, str], *options: str) -> dict[str, str]:
    created = await relayctl("keys", "create", *options, "--json", env=env)
    assert created.returncode == 0, created.stderr
    key: dict[str, str] = json.loads(created.stdout)
    return key


async def test_rotate_prints_the_new_key_once_and_quiet_prints_it_alone(
    env: dict[str, str],
) -> None:
    old = await create_key(env, "--name", "Deploy")
    rotated = await relayctl("keys", "rotate", old["id"], "--grace", "30m", "--quiet", env=env)
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.removesuffix("\n")
    assert new_key.startswith("rl_live_")
    assert new_key != old["key"]
    # Both work during the grace period.
    for key in (old["key"], new_key):
        listed = await relayctl("keys", "list", "--json", env=env | {"RELAY_API_KEY": key})
        assert [k["name"] for k in json.loads(listed.stdout)][:2] == ["Deploy", "Deploy"]

    again = await relayctl("keys", "rotate", old["id"], env=env)
    assert again.returncode == 1  # 409
    assert again.stderr.startswith("relayctl: error: 409: API key is already being rotated")


async def test_rotate_for_people_shows_the_key_and_how_long_the_old_one_works(
    env: dict[str, str],
) -> None:
    old = await create_key(env, "--name", "Laptop")
    rotated = await relayctl("keys", "rotate", old["id"], env=env)
    assert rotated.returncode == 0, rotated.stderr
    key_lines = [line for line in rotated.stdout.splitlines() if line.startswith("rl_live_")]
    assert len(key_lines) == 1
    assert "Laptop" in rotated.stdout
    assert "not shown again" in rotated.stderr
    assert "The old key keeps working for 1h" in rotated.stderr


async def test_rotate_with_grace_until_quiet_keeps_the_old_key_until_it_goes_quiet(
    env: dict[str, str],
) -> None:
    """`--grace until_quiet` was refused as a usage mistake (it is not a duration)."""
    old = await create_key(env, "--name", "Billing worker")
    rotated = await relayctl("keys", "rotate", old["id"], "--grace", "until_quiet", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "until it has gone 15 minutes without a request" in rotated.stderr
    audited = await relayctl("audit", "list", "--action", "api_key.rotated", "--json", env=env)
    (event,) = json.loads(audited.stdout)
    assert event["details"]["grace_period_seconds"] == "until_quiet"
    # Bounded by 7 days; a sweep ends it once the old key has gone quiet.
    shown = json.loads((await relayctl("keys", "get", old["id"], "--json", env=env)).stdout)
    left = parse_timestamp(shown["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=5) < left <= timedelta(days=7)
    still = await relayctl("datasets", "list", env=env | {"RELAY_API_KEY": old["key"]})
    assert still.returncode == 0, still.stderr


async def test_update_renames_and_sets_then_removes_the_rate_limit(env: dict[str, str]) -> None:
    key = await create_key(env, "--name", "Batch", "--rate-limit", "600/1m")
    assert key["rate_limit"] == {"requests": 600, "per_seconds": 60}
    updated = await relayctl(
        "keys", "update", key["id"], "--name", "Nightly", "--rate-limit", "10000/1d", "--json",
        env=env,
    )  # fmt: skip
    assert json.loads(updated.stdout)["rate_limit"] == {"requests": 10000, "per_seconds": 86400}
    removed = await relayctl("keys", "update", key["id"], "--no-rate-limit", env=env)
    assert removed.returncode == 0, removed.stderr
    shown = await relayctl("keys", "get", key["id"], "--json", env=env)
    assert {k: v for k, v in json.loads(shown.stdout).items() if k in ("name", "rate_limit")} == {
        "name": "Nightly",
        "rate_limit": None,
    }


async def test_a_rate_limit_is_echoed_in_the_unit_it_was_given(env: dict[str, str]) -> None:
    """`--rate-limit 10000/1d` was shown as 10000/86400s."""
    created = await relayctl("keys", "create", "--name", "Nightly", "--rate-limit", "10000/1d",
                             env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "10000/1d" in created.stdout
    listed = await relayctl("keys", "list", env=env)
    assert "10000/1d" in listed.stdout


@pytest.mark.parametrize(
    ("given", "shown"),
    [("10000/1d", "10000/1d"), ("600/60s", "600/1m"), ("5/90s", "5/90s"),
     ("1000/3600s", "1000/1h"), ("7/14d", "7/2w"), ("1/1s", "1/1s")],
)  # fmt: skip
def test_a_rate_limit_is_shown_in_its_largest_whole_unit(given: str, shown: str) -> None:
    limit = parse_rate_limit(given)
    assert format_rate_limit(limit) == shown
    assert parse_rate_limit(shown) == limit


@pytest.mark.parametrize(
    "arguments",
    [
        ["update", MISSING_ID],
        ["update", MISSING_ID, "--rate-limit", "600/60s", "--no-rate-limit"],
        ["update", MISSING_ID, "--rate-limit", "600"],
        ["update", MISSING_ID, "--rate-limit", "many/60s"],
        ["rotate", MISSING_ID, "--grace", "soon"],
        ["rotate", MISSING_ID, "--grace", "until_loud"],
        ["rotate", MISSING_ID, "--quiet", "--json"],
        ["usage", MISSING_ID, "--days", "91"],
    ],
)
async def test_a_wrong_option_is_a_usage_mistake_before_any_request(
    env: dict[str, str], arguments: list[str]
) -> None:
    refused = await relayctl("keys", *arguments, env=env)
    assert refused.returncode == 2


async def test_get_shows_one_key_and_a_missing_one_exits_with_4(env: dict[str, str]) -> None:
    key = await create_key(env, "--name", "Reader", "--scope", "datasets:read")
    shown = await relayctl("keys", "get", key["id"], env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Reader" in shown.stdout
    assert "datasets:read" in shown.stdout
    assert key["key"] not in shown.stdout
    missing = await relayctl("keys", "get", MISSING_ID, env=env)
    assert missing.returncode == 4


def field_shown(stdout: str, name: str) -> str:
    """The value `keys get` shows beside `name` (a column of at least two spaces apart)."""
    pattern = re.compile(rf"^\s*{re.escape(name)}\s{{2,}}(\S.*?)\s*$", re.MULTILINE)
    match = pattern.search(stdout)
    assert match, f"no {name!r} in\n{stdout}"
    return match.group(1)


async def key_read_when(
    env: dict[str, str], key_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """`keys get --json` once `ready` says so of it: the live server writes a key's
    clients and scopes about once a second (AssertionError after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        read: dict[str, Any] = json.loads(
            (await relayctl("keys", "get", key_id, "--json", env=env)).stdout
        )
        if ready(read):
            return read
        assert time.monotonic() < deadline, f"not there yet: {read}"
        await asyncio.sleep(0.2)


async def test_get_shows_who_used_the_key_and_the_scopes_it_needed(env: dict[str, str]) -> None:
    """`keys get` showed the key's settings only, not what its read says of its use."""
    key = await create_key(
        env, "--name", "Reader", "--scope", "datasets:read", "--scope", "datasets:write"
    )
    unused = await relayctl("keys", "get", key["id"], env=env)
    assert field_shown(unused.stdout, "clients (24 h)") == "none"
    assert field_shown(unused.stdout, "scopes used (30 d)") == "none"
    assert field_shown(unused.stdout, "suggested scopes") == "(none narrower)"

    used = await relayctl("datasets", "list", env=env | {"RELAY_API_KEY": key["key"]})
    assert used.returncode == 0, used.stderr
    read = await key_read_when(env, key["id"], lambda read: read["clients"] and read["scopes_used"])
    (client,) = read["clients"]
    assert (client["address"], client["requests"]) == ("127.0.0.1", 1)
    assert client["user_agent"].startswith("relay-sdk/")
    assert [use["scope"] for use in read["scopes_used"]] == ["datasets:read"]
    assert read["suggested_scopes"] == ["datasets:read"]

    shown = await relayctl("keys", "get", key["id"], env=env)
    assert shown.returncode == 0, shown.stderr
    assert field_shown(shown.stdout, "scopes").startswith("datasets:read, datasets:write")
    assert field_shown(shown.stdout, "scopes used (30 d)").startswith("datasets:read (last ")
    assert field_shown(shown.stdout, "suggested scopes") == "datasets:read"
    assert field_shown(shown.stdout, "clients (24 h)") == "1"
    client_row = next(line for line in shown.stdout.splitlines() if "127.0.0.1" in line)
    cells = [cell.strip() for cell in client_row.strip("│ ").split("│")]
    assert cells[:3] == ["127.0.0.1", client["user_agent"], "1"]
    assert "datasets:read would do" in shown.stderr


async def test_usage_shows_a_row_per_day_or_json(
    env: dict[str, str], app: FastAPI, tenant_a: TenantFixture
) -> None:
    key = await create_key(env, "--name", "Counted")
    await record_uses(app, tenant_a, key["id"], [200, 204, 404, 500])
    today = datetime.now(UTC).date().isoformat()

    table = await relayctl("keys", "usage", key["id"], "--days", "3", env=env)
    assert table.returncode == 0, table.stderr
    today_row = next(line for line in table.stdout.splitlines() if today in line)
    assert [cell.strip() for cell in today_row.strip("│ ").split("│")] == [
        today, "4", "2", "0", "1", "1"
    ]  # fmt: skip
    as_json = json.loads((await relayctl("keys", "usage", key["id"], "--json", env=env)).stdout)
    assert len(as_json["days"]) == 30
    assert as_json["days"][-1] == {
        "date": today,
        "total": 4,
        "by_status": {"2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1},
    }


async def test_keys_list_follows_the_pages_past_the_first_hundred(
    env: dict[str, str], db: Database, tenant_a: TenantFixture
) -> None:
    for number in range(100):
        await make_api_key(db, tenant_a, name=f"Key {number}")
    listed = await relayctl("keys", "list", "--json", env=env)
    names = [key["name"] for key in json.loads(listed.stdout)]
    assert len(names) == 101
    assert (names[0], names[-1]) == ("Key 99", "Initial key")


async def test_a_key_over_its_rate_limit_exits_with_7_saying_when_to_retry(
    env: dict[str, str],
) -> None:
    limited = await create_key(env, "--name", "Tight", "--rate-limit", "1/1h")
    as_limited = env | {"RELAY_API_KEY": limited["key"]}
    assert (await relayctl("datasets", "list", env=as_limited)).returncode == 0
    refused = await relayctl("datasets", "list", env=as_limited)
    assert refused.returncode == 7
    assert refused.stderr.startswith("relayctl: error: 429: Rate limit exceeded: 1 requests per")
    assert "; retry after " in refused.stderr


async def test_suspend_and_resume_say_the_keys_status(env: dict[str, str]) -> None:
    key = await create_key(env, "--name", "Batch")
    suspended = await relayctl("keys", "suspend", key["id"], env=env)
    assert suspended.returncode == 0, suspended.stderr
    assert "suspended" in suspended.stdout
    refused = await relayctl("datasets", "list", env=env | {"RELAY_API_KEY": key["key"]})
    assert refused.returncode == 3
    assert "API key disabled" in refused.stderr
    listed = await relayctl("keys", "list", env=env)
    assert "suspended" in listed.stdout
    resumed = await relayctl("keys", "resume", key["id"], "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "disabled" not in json.loads(resumed.stdout) or not json.loads(resumed.stdout)["disabled"]
    )
    allowed = await relayctl("datasets", "list", env=env | {"RELAY_API_KEY": key["key"]})
    assert allowed.returncode == 0, allowed.stderr


async def test_datasets_and_addresses_are_set_shown_and_removed(env: dict[str, str]) -> None:
    made = await relayctl("datasets", "create", "Chosen", "--json", env=env)
    dataset_id = json.loads(made.stdout)["id"]
    key = await create_key(
        env, "--name", "Limited", "--dataset", dataset_id, "--allow-ip", "127.0.0.0/8"
    )
    assert (key["dataset_ids"], key["allowed_ips"]) == ([dataset_id], ["127.0.0.0/8"])
    shown = await relayctl("keys", "get", key["id"], env=env)
    assert dataset_id in shown.stdout
    assert "127.0.0.0/8" in shown.stdout
    freed = await relayctl(
        "keys", "update", key["id"], "--all-datasets", "--anywhere", "--json", env=env
    )
    assert freed.returncode == 0, freed.stderr
    assert (json.loads(freed.stdout)["dataset_ids"], json.loads(freed.stdout)["allowed_ips"]) == (
        None,
        None,
    )
    both = await relayctl("keys", "update", key["id"], "--anywhere", "--allow-ip", "::1", env=env)
    assert both.returncode == 2


async def test_a_quota_is_set_shown_and_removed(env: dict[str, str]) -> None:
    key = await create_key(env, "--name", "Metered", "--quota", "1000/day")
    assert (key["quota"]["requests"], key["quota"]["period"]) == (1000, "day")
    shown = await relayctl("keys", "get", key["id"], env=env)
    assert "1000 of 1000/day left (refills" in shown.stdout
    freed = await relayctl("keys", "update", key["id"], "--no-quota", "--json", env=env)
    assert json.loads(freed.stdout)["quota"] is None
    wrong = await relayctl("keys", "update", key["id"], "--quota", "10/week", env=env)
    assert wrong.returncode == 2
