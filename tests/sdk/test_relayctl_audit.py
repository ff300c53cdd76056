"""`relayctl audit list` against a real server: newest first, filtered by action and time,
cut at --limit with a note, JSON for scripts, and the audit:read scope."""

from __future__ import annotations

import json

import pytest

from relay.db import Database
from tests.factories import TenantFixture, make_dataset
from tests.sdk.conftest import relayctl

pytestmark = pytest.mark.backend_independent

CREATED = "dataset.created"


@pytest.fixture
async def three_datasets(db: Database, tenant_a: TenantFixture) -> None:
    """Three "dataset.created" events, oldest first: One, Two, Three."""
    for name in ("One", "Two", "Three"):
        await make_dataset(db, tenant_a, name=name)


@pytest.mark.usefixtures("three_datasets")
async def test_audit_list_shows_the_newest_events_of_an_action(env: dict[str, str]) -> None:
    listed = await relayctl("audit", "list", "--action", CREATED, "--limit", "2", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if CREATED in line]
    assert [("Three" in row, "Two" in row) for row in rows] == [(True, False), (False, True)]
    assert "Showing the newest 2; --limit N or --all for more." in listed.stderr

    every = await relayctl("audit", "list", "--action", CREATED, "--json", env=env)
    events = json.loads(every.stdout)
    assert [event["target_name"] for event in events] == ["Three", "Two", "One"]
    assert {event["action"] for event in events} == {CREATED}
    assert every.stderr == ""


@pytest.mark.usefixtures("three_datasets")
@pytest.mark.parametrize(("since", "count"), [("1h", 3), ("2000-01-01", 3), ("2999-01-01", 0)])
async def test_audit_list_since_takes_a_duration_or_a_date(
    env: dict[str, str], since: str, count: int
) -> None:
    listed = await relayctl(
        "audit", "list", "--action", CREATED, "--since", since, "--json", env=env
    )
    assert len(json.loads(listed.stdout)) == count


@pytest.mark.parametrize(
    ("options", "status"), [(["--since", "yesterday"], 2), (["--action", "dataset.eaten"], 5)]
)
async def test_audit_list_refuses_a_bad_filter(
    env: dict[str, str], options: list[str], status: int
) -> None:
    refused = await relayctl("audit", "list", *options, env=env)
    assert refused.returncode == status


async def test_audit_list_needs_the_audit_read_scope(env: dict[str, str]) -> None:
    created = await relayctl(
        "keys", "create", "--name", "Reader", "--scope", "datasets:read", "--quiet", env=env
    )
    refused = await relayctl("audit", "list", env=env | {"RELAY_API_KEY": created.stdout.strip()})
    assert refused.returncode == 3
    assert "403: Insufficient permissions: requires audit:read" in refused.stderr
