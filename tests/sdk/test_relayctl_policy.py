"""relayctl policy: show the organisation key policy, and set what is given of it (the
rest stays), against a real server."""

from __future__ import annotations

import json

import pytest

from tests.sdk.conftest import relayctl

pytestmark = pytest.mark.backend_independent


async def test_set_changes_what_is_given_and_show_reads_it(env: dict[str, str]) -> None:
    shown = await relayctl("policy", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "max lifetime" in shown.stdout
    assert "never" in shown.stdout

    first = await relayctl("policy", "set", "--max-lifetime-days", "90", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "max_lifetime_days": 90, "expire_unused_after_days": None, "full_access_keys": "allowed"
    }  # fmt: skip
    second = await relayctl(
        "policy", "set", "--expire-unused-after-days", "180",
        "--full-access-keys", "owners_only", "--json", env=env,
    )  # fmt: skip
    assert json.loads(second.stdout) == {
        "max_lifetime_days": 90, "expire_unused_after_days": 180, "full_access_keys": "owners_only"
    }  # fmt: skip
    cleared = await relayctl("policy", "set", "--no-max-lifetime", env=env)
    assert cleared.returncode == 0, cleared.stderr
    assert "180 days" in cleared.stdout
    assert "owners only" in cleared.stdout
    read = json.loads((await relayctl("policy", "show", "--json", env=env)).stdout)
    assert read["max_lifetime_days"] is None


async def test_set_refuses_contradictions_and_nothing_to_do(env: dict[str, str]) -> None:
    for options in (
        ("--max-lifetime-days", "30", "--no-max-lifetime"),
        ("--full-access-keys", "nobody"),
        (),
    ):
        refused = await relayctl("policy", "set", *options, env=env)
        assert refused.returncode == 2, options
        assert refused.stderr.startswith("relayctl: error:"), refused.stderr
    assert json.loads((await relayctl("policy", "show", "--json", env=env)).stdout) == {
        "max_lifetime_days": None, "expire_unused_after_days": None, "full_access_keys": "allowed"
    }  # fmt: skip
