"""POST/GET/DELETE /api/v1/auth/api-keys, as the guide shows them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from tests.factories import TenantFixture, make_api_key, set_key_expiry

KEYS = "/api/v1/auth/api-keys"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
LISTED_FIELDS = {"id", "name", "key_prefix", "scopes", "created_at", "expires_at", "last_used_at"}


def in_a_year() -> str:
    return (utcnow() + timedelta(days=365)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


async def create_key(
    client: httpx.AsyncClient, tenant: TenantFixture, **body: object
) -> httpx.Response:
    return await client.post(
        KEYS, json={"name": "Production Server"} | body, headers=tenant.headers
    )


async def test_create_returns_the_guides_fields_and_the_full_key_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    expires_at = in_a_year()
    response = await create_key(client, tenant_a, expires_at=expires_at)

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == LISTED_FIELDS | {"key"}
    uuid.UUID(body["id"])
    assert body["name"] == "Production Server"
    assert body["key"].startswith("rl_live_")
    assert len(body["key"]) == 46
    assert body["key_prefix"] == body["key"][:12]
    assert body["scopes"] == []
    assert ISO_UTC.fullmatch(body["created_at"])
    assert body["expires_at"] == expires_at
    assert body["last_used_at"] is None


async def test_created_key_works_for_requests(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    new_key = (await create_key(client, tenant_a)).json()["key"]
    response = await client.get("/api/v1/datasets", headers={"X-API-Key": new_key})
    assert response.status_code == 200


async def test_full_key_is_stored_only_as_its_digest(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    body = (await create_key(client, tenant_a)).json()
    async with db.sessionmaker() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    dumped = repr(rows)
    assert body["key"] not in dumped
    assert body["key"][12:] not in dumped


async def test_list_is_a_bare_array_newest_first_without_keys(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    first = (await create_key(client, tenant_a, name="First")).json()
    second = (await create_key(client, tenant_a, name="Second")).json()

    response = await client.get(KEYS, headers=tenant_a.headers)

    assert response.status_code == 200
    listed = response.json()
    assert isinstance(listed, list)
    assert [item["id"] for item in listed][:2] == [second["id"], first["id"]]
    assert [item["name"] for item in listed] == ["Second", "First", "Initial key"]
    for item in listed:
        assert set(item) == LISTED_FIELDS
    assert first["key"] not in response.text
    assert second["key"] not in response.text


async def test_list_hides_revoked_keys_but_shows_expired_ones(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    revoked_id, _ = await make_api_key(db, tenant_a, name="Revoked")
    expired_id, _ = await make_api_key(db, tenant_a, name="Expired")
    await set_key_expiry(db, expired_id, utcnow() - timedelta(days=1))
    await client.delete(f"{KEYS}/{revoked_id}", headers=tenant_a.headers)

    names = [item["name"] for item in (await client.get(KEYS, headers=tenant_a.headers)).json()]
    assert names == ["Expired", "Initial key"]


async def test_list_shows_only_the_callers_tenant(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    listed = (await client.get(KEYS, headers=tenant_b.headers)).json()
    assert [item["id"] for item in listed] == [str(tenant_b.key_id)]


async def test_revoke_answers_204_with_an_empty_body(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a)
    response = await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)
    assert response.status_code == 204
    assert response.content == b""
    async with db.sessionmaker() as session:
        revoked_at = await session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key_id))
    assert revoked_at is not None


async def test_revoking_twice_unknown_or_another_tenants_key_is_404(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a)
    assert (await client.delete(f"{KEYS}/{key_id}", headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(f"{KEYS}/{key_id}", headers=tenant_a.headers)).status_code == 204
    for target in [key_id, uuid.uuid4()]:
        response = await client.delete(f"{KEYS}/{target}", headers=tenant_a.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "API key not found", "code": "not_found"}


async def test_another_tenants_revoke_leaves_the_key_working(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await client.delete(f"{KEYS}/{tenant_a.key_id}", headers=tenant_b.headers)
    assert (await client.get(KEYS, headers=tenant_a.headers)).status_code == 200


async def test_a_key_may_revoke_itself(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.delete(f"{KEYS}/{tenant_a.key_id}", headers=tenant_a.headers)
    assert response.status_code == 204
    after = await client.get(KEYS, headers=tenant_a.headers)
    assert after.status_code == 401


async def test_naive_expiry_is_taken_as_utc_and_offsets_are_converted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    naive = (await create_key(client, tenant_a, expires_at="2031-06-01T12:00:00")).json()
    assert naive["expires_at"] == "2031-06-01T12:00:00Z"
    offset = (await create_key(client, tenant_a, expires_at="2031-06-01T12:00:00+02:00")).json()
    assert offset["expires_at"] == "2031-06-01T10:00:00Z"


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "x" * 101}, ["body", "name"]),
        ({"name": 42}, ["body", "name"]),
        ({"name": "ok", "expires_at": "2020-01-01T00:00:00Z"}, ["body", "expires_at"]),
        ({"name": "ok", "expires_at": "next tuesday"}, ["body", "expires_at"]),
        ({"name": "ok", "scopes": ["datasets:delete"]}, ["body", "scopes", 0]),
        ({"name": "ok", "scopes": "datasets:read"}, ["body", "scopes"]),
        (
            {"name": "ok", "rate_limit": {"requests": 0, "per_seconds": 60}},
            ["body", "rate_limit", "requests"],
        ),
        ({"name": "ok", "unknown": 1}, ["body", "unknown"]),
    ],
    ids=[
        "missing-name",
        "empty-name",
        "blank-name",
        "long-name",
        "number-name",
        "past-expiry",
        "bad-date",
        "unknown-scope",
        "scopes-not-a-list",
        "zero-rate-limit",
        "unknown-field",
    ],
)
async def test_invalid_create_is_422_and_creates_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict[str, object], location: list[str]
) -> None:
    response = await client.post(KEYS, json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location
    assert len((await client.get(KEYS, headers=tenant_a.headers)).json()) == 1


async def test_name_of_exactly_100_characters_is_accepted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assert (await create_key(client, tenant_a, name="x" * 100)).status_code == 201


async def test_empty_scopes_are_accepted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await create_key(client, tenant_a, scopes=[])
    assert response.status_code == 201
    assert response.json()["scopes"] == []


async def test_use_shows_in_last_used_at_after_a_flush(
    client: httpx.AsyncClient, app: object, tenant_a: TenantFixture
) -> None:
    before = datetime.now(UTC)
    await client.get("/api/v1/datasets", headers=tenant_a.headers)
    await app.state.activity.flush()  # type: ignore[attr-defined]

    listed = (await client.get(KEYS, headers=tenant_a.headers)).json()
    last_used = datetime.fromisoformat(listed[0]["last_used_at"])
    assert last_used >= before.replace(microsecond=0)


async def test_the_list_pages_with_per_page_and_a_link_to_the_next(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    for number in range(4):
        await make_api_key(db, tenant_a, name=f"K{number}")
    first = await client.get(KEYS, params={"per_page": 2}, headers=tenant_a.headers)
    assert [key["name"] for key in first.json()] == ["K3", "K2"]
    link = re.fullmatch(
        r'<(http://127\.0\.0\.1:8000/api/v1/auth/api-keys\?[^>]+)>; rel="next"',
        first.headers["Link"],
    )
    assert link, first.headers["Link"]  # absolute, from RELAY_PUBLIC_URL
    # Between pages a key is added and a listed one revoked: nothing skipped or repeated.
    await make_api_key(db, tenant_a, name="Newer")
    listed = {key["name"]: key["id"] for key in first.json()}
    await client.delete(f"{KEYS}/{listed['K3']}", headers=tenant_a.headers)
    second = await client.get(link.group(1), headers=tenant_a.headers)
    assert [key["name"] for key in second.json()] == ["K1", "K0"]
    third = await client.get(second.headers["Link"][1:].split(">")[0], headers=tenant_a.headers)
    assert [key["name"] for key in third.json()] == ["Initial key"]
    assert "Link" not in third.headers
    # A cursor is the tenant's own: another tenant's is refused like a mangled one.
    cursor = link.group(1).split("cursor=")[1]
    for headers, bad in ((tenant_b.headers, cursor), (tenant_a.headers, cursor[:-2] + "AA")):
        refused = await client.get(KEYS, params={"cursor": bad}, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_per_page_defaults_to_and_stops_at_100(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assert "Link" not in (await client.get(KEYS, headers=tenant_a.headers)).headers
    for per_page in (0, 101):
        response = await client.get(KEYS, params={"per_page": per_page}, headers=tenant_a.headers)
        assert response.status_code == 422
