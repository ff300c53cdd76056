"""GET /api/v1/audit-events?actor=...&key_id=...: the events of one actor, or about one
API key, with the action, date and cursor as before, scoped to the tenant."""

from __future__ import annotations

from typing import Any

import httpx

from relay.db import Database
from tests.factories import RECORDED_IN_BACKGROUND, TenantFixture, key_headers, make_api_key

EVENTS = "/api/v1/audit-events"
KEYS = "/api/v1/auth/api-keys"


async def listed(
    client: httpx.AsyncClient, tenant: TenantFixture, **query: Any
) -> list[tuple[str, str, str | None]]:
    response = await client.get(EVENTS, params=query, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [
        (event["action"], event["actor"], event["target_id"]) for event in response.json()["items"]
    ]


async def test_actor_and_key_filters_keep_only_their_events_and_combine(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    other_id, other_key = await make_api_key(db, tenant_a, name="Other")
    made = (await client.post(KEYS, json={"name": "Made"}, headers=key_headers(other_key))).json()
    await client.patch(f"{KEYS}/{made['id']}", json={"name": "Renamed"}, headers=tenant_a.headers)
    other = f"api_key:{other_key[:12]}"

    by_other = await listed(client, tenant_a, actor=other)
    assert [action for action, _, _ in by_other if action not in RECORDED_IN_BACKGROUND] == [
        "api_key.created"
    ]
    assert {actor for _, actor, _ in by_other} == {other}

    about_made = await listed(client, tenant_a, key_id=made["id"])
    assert [(action, target) for action, _, target in about_made] == [
        ("api_key.updated", made["id"]),
        ("api_key.created", made["id"]),
    ]
    assert await listed(client, tenant_a, key_id=made["id"], actor=other) == [
        ("api_key.created", other, made["id"])
    ]
    assert await listed(client, tenant_a, key_id=made["id"], action="api_key.updated") == [
        ("api_key.updated", f"api_key:{tenant_a.key[:12]}", made["id"])
    ]
    about_other = await listed(client, tenant_a, key_id=str(other_id), actor="system")
    assert about_other == [("api_key.created", "system", str(other_id))]


async def test_a_cursor_keeps_to_the_key_filter(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    made = (await client.post(KEYS, json={"name": "Paged"}, headers=tenant_a.headers)).json()
    for name in ("One", "Two"):
        await client.patch(f"{KEYS}/{made['id']}", json={"name": name}, headers=tenant_a.headers)
    query = {"key_id": made["id"], "page_size": 2}
    first = (await client.get(EVENTS, params=query, headers=tenant_a.headers)).json()
    after = await client.get(
        EVENTS, params=query | {"cursor": first["next_cursor"]}, headers=tenant_a.headers
    )
    names = [event["target_name"] for event in first["items"] + after.json()["items"]]
    assert [name.split(" (")[0] for name in names] == ["Two", "One", "Paged"]


async def test_another_tenants_actor_or_key_finds_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    assert await listed(client, tenant_b, key_id=str(tenant_a.key_id)) == []
    assert await listed(client, tenant_b, actor=f"api_key:{tenant_a.key[:12]}") == []
    # Its own tenant sees it (its first use, recorded in the background, may be there too).
    own = await listed(client, tenant_a, key_id=str(tenant_a.key_id), actor="system")
    assert own == [("api_key.created", "system", str(tenant_a.key_id))]


async def test_an_unreadable_actor_or_key_id_is_a_422_that_does_not_echo_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for query in (
        {"key_id": "not-a-uuid"},
        {"actor": "user:a\x00b"},
        {"actor": "x" * 341},
    ):
        response = await client.get(EVENTS, params=query, headers=tenant_a.headers)
        assert response.status_code == 422, query
        assert "not-a-uuid" not in response.text
        assert "xxxxxxxx" not in response.text
