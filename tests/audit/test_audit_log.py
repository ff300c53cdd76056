"""The audit log: what each action leaves, who did it from where, read newest first
with filters, scoped to the tenant, never changed by any route, pruned by age."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from relay.audit.models import AuditEvent
from relay.db import Database, utcnow
from tests.conftest import asgi_client
from tests.factories import (
    RECORDED_IN_BACKGROUND,
    TenantFixture,
    key_headers,
    make_api_key,
    set_key_expiry,
)
from tests.statements import count_statements

EVENTS = "/api/v1/audit-events"
KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
BROWSER = {"User-Agent": "Mozilla/5.0 (Test) Relay-Audit"}


async def events(
    client: httpx.AsyncClient, tenant: TenantFixture, **query: Any
) -> list[dict[str, Any]]:
    response = await client.get(EVENTS, params=query, headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_key_and_dataset_actions_leave_events_with_actor_address_and_agent(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    async with asgi_client(app, "198.51.100.23") as client:
        headers = tenant_a.headers | BROWSER
        made = (await client.post(KEYS, json={"name": "CI"}, headers=headers)).json()
        await client.post(
            f"{KEYS}/{made['id']}/rotate", json={"grace_period_seconds": 60}, headers=headers
        )
        await client.patch(f"{KEYS}/{made['id']}", json={"name": "CI (old)"}, headers=headers)
        await client.delete(f"{KEYS}/{made['id']}", headers=headers)
        dataset = (await client.post(DATASETS, json={"name": "Scenes"}, headers=headers)).json()
        await client.delete(f"{DATASETS}/{dataset['id']}", headers=headers)
        listed = await events(client, tenant_a)

    prefix = tenant_a.key[:12]
    # Leave out the tenant's own set-up and the sightings of its key's first use.
    listed = [
        event
        for event in listed
        if event["actor"] == f"api_key:{prefix}" and event["action"] not in RECORDED_IN_BACKGROUND
    ]
    actions = [event["action"] for event in listed]
    assert actions == [
        "dataset.deleted",
        "dataset.created",
        "api_key.revoked",
        "api_key.updated",
        "api_key.rotated",
        "api_key.created",
    ]
    for event in listed:
        assert event["actor"] == f"api_key:{prefix}"
        assert event["client_address"] == "198.51.100.23"
        assert event["user_agent"] == BROWSER["User-Agent"]
    created = listed[-1]
    assert (created["target_type"], created["target_id"]) == ("api_key", made["id"])
    assert created["target_name"] == f"CI ({made['key_prefix']}…)"
    rotated = next(event for event in listed if event["action"] == "api_key.rotated")
    assert rotated["details"]["grace_period_seconds"] == 60
    assert rotated["details"]["new_key_prefix"].startswith("rl_live_")
    assert made["key"] not in str(listed)


async def test_events_filter_by_action_and_date_and_page_newest_first(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    for number in range(5):
        await client.post(DATASETS, json={"name": f"D{number}"}, headers=tenant_a.headers)
    created = await events(client, tenant_a, action="dataset.created", page_size=2)
    assert [event["target_name"] for event in created] == ["D4", "D3"]
    second = await client.get(
        EVENTS,
        params={"action": "dataset.created", "page_size": 2, "page": 3},
        headers=tenant_a.headers,
    )
    assert [event["target_name"] for event in second.json()["items"]] == ["D0"]
    assert second.json()["has_more"] is False
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.target_name == "D0")
            .values(at=utcnow() - timedelta(days=3))
        )
    since = (utcnow() - timedelta(days=1)).isoformat()
    recent = await events(client, tenant_a, action="dataset.created", since=since)
    assert [event["target_name"] for event in recent] == ["D4", "D3", "D2", "D1"]


async def test_cursor_pages_skip_and_repeat_nothing_while_events_are_recorded(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for number in range(5):
        await client.post(DATASETS, json={"name": f"D{number}"}, headers=tenant_a.headers)
    query = {"action": "dataset.created", "page_size": 2}
    first = (await client.get(EVENTS, params=query, headers=tenant_a.headers)).json()
    assert (first["page"], first["has_more"]) == (1, True)
    seen = [event["target_name"] for event in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        # Recorded between pages: by page number, every older event would move down
        # one place and the next page would repeat one; after a cursor nothing moves.
        await client.post(DATASETS, json={"name": "Newcomer"}, headers=tenant_a.headers)
        page = await client.get(EVENTS, params=query | {"cursor": cursor}, headers=tenant_a.headers)
        body = page.json()
        assert body["page"] is None
        seen += [event["target_name"] for event in body["items"]]
        cursor = body["next_cursor"]
        assert (cursor is not None) == body["has_more"]
    assert seen == ["D4", "D3", "D2", "D1", "D0"]


async def test_a_cursor_with_a_page_or_from_another_tenant_is_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    for number in range(3):
        await client.post(DATASETS, json={"name": f"D{number}"}, headers=tenant_a.headers)
    first = await client.get(EVENTS, params={"page_size": 1}, headers=tenant_a.headers)
    cursor = first.json()["next_cursor"]
    with_page = await client.get(
        EVENTS, params={"cursor": cursor, "page": 2}, headers=tenant_a.headers
    )
    assert with_page.status_code == 422
    assert "Pass either cursor or page" in with_page.text
    theirs = await client.get(EVENTS, params={"cursor": cursor}, headers=tenant_b.headers)
    assert theirs.status_code == 422
    assert theirs.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert "D2" not in theirs.text


@pytest.mark.parametrize(
    "query",
    [{"action": "dataset.exploded"}, {"since": "yesterday"}, {"page_size": 101}, {"page": 0},
     {"cursor": "x" * 43}, {"cursor": "x" * 101}],
)  # fmt: skip
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, query: dict[str, object]
) -> None:
    response = await client.get(EVENTS, params=query, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_each_tenant_reads_only_its_own_events(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await client.post(DATASETS, json={"name": "A's secret plan"}, headers=tenant_a.headers)
    assert "A's secret plan" not in str(await events(client, tenant_b))
    assert "A's secret plan" in str(await events(client, tenant_a))


async def test_no_route_changes_or_deletes_an_event(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await client.post(DATASETS, json={"name": "x"}, headers=tenant_a.headers)
    event_id = (await events(client, tenant_a))[0]["id"]
    for method in ("PUT", "PATCH", "DELETE"):
        for path in (EVENTS, f"{EVENTS}/{event_id}"):
            response = await client.request(method, path, json={}, headers=tenant_a.headers)
            assert response.status_code in (404, 405), f"{method} {path}"
    assert (await events(client, tenant_a))[0]["id"] == event_id


async def test_a_refused_use_of_an_expired_key_is_recorded_once_an_hour(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a, name="Old script")
    await set_key_expiry(db, key_id, utcnow() - timedelta(minutes=1))
    for _ in range(5):
        assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 401
    await app.state.activity.flush()
    refused = await events(client, tenant_a, action="api_key.expired_use_refused")
    assert len(refused) == 1
    assert refused[0]["actor"] == f"api_key:{key[:12]}"
    assert refused[0]["target_id"] == str(key_id)


async def test_first_use_of_a_key_from_a_new_address_is_recorded(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    _, key = await make_api_key(db, tenant_a, name="Laptop")
    for address in ("203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.1"):
        async with asgi_client(app, address) as client:
            assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200
    await app.state.activity.flush()
    async with asgi_client(app) as client:
        sightings = await events(client, tenant_a, action="api_key.new_client_address")
    laptop = [event for event in sightings if event["actor"] == f"api_key:{key[:12]}"]
    assert sorted(event["client_address"] for event in laptop) == ["203.0.113.1", "203.0.113.2"]


async def test_audit_log_needs_the_audit_read_scope(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, key = await make_api_key(db, tenant_a, scopes=["datasets:write", "api_keys:write"])
    response = await client.get(EVENTS, headers=key_headers(key))
    assert response.status_code == 403
    _, auditor = await make_api_key(db, tenant_a, scopes=["audit:read"])
    assert (await client.get(EVENTS, headers=key_headers(auditor))).status_code == 200


async def test_prune_deletes_only_events_past_the_retention(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    from relay.audit.retention import prune_expired_events

    for name in ("old", "recent"):
        await client.post(DATASETS, json={"name": name}, headers=tenant_a.headers)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.target_name == "old")
            .values(at=utcnow() - timedelta(days=91))
        )
    assert await prune_expired_events(db.sessionmaker, retention_days=90) == 1
    names = [event["target_name"] for event in await events(client, tenant_a)]
    assert "recent" in names
    assert "old" not in names


async def test_prune_deletes_in_short_transactions_however_much_there_is(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    """One delete of everything would outlast the statement timeout on a large log
    (and on SQLite hold the write lock for as long)."""
    from relay.audit.retention import prune_expired_events

    for number in range(5):
        await client.post(DATASETS, json={"name": f"old {number}"}, headers=tenant_a.headers)
    await client.post(DATASETS, json={"name": "recent"}, headers=tenant_a.headers)
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.target_name.startswith("old"))
            .values(at=utcnow() - timedelta(days=91))
        )
    with count_statements(db) as statements:
        assert await prune_expired_events(db.sessionmaker, retention_days=90, batch=2) == 5
    assert sum(statement.startswith("DELETE") for statement in statements) == 3
    names = [event["target_name"] for event in await events(client, tenant_a)]
    assert [name for name in names if name.startswith("old")] == []
    assert "recent" in names
    assert uuid.UUID((await events(client, tenant_a))[0]["id"])
