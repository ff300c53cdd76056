"""A key's rate limit follows its lineage (issue 20): a rotated key's successor shares
its predecessor's window, and a key made by a key counts in its maker's window as well
as in its own, transitively; a request passes only when every window has room, and a
refused one is counted in none. A change to a maker's limit reaches the keys it made
from their next request, on every worker."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from relay.auth.cache import KeyCache
from relay.auth.principal import Principal
from relay.config import Settings
from relay.db import Database
from relay.migrations import upgrade_database
from tests.auth.workers import first_refusal, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, key_headers, make_api_key
from tests.limits.conftest import Clock, spread_requests
from tests.live_server import LiveServer

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"
A_WEEK = 7 * 24 * 3600


def exceeded(requests: int, seconds: int, retry_after: int) -> dict[str, str]:
    return {
        "detail": f"Rate limit exceeded: {requests} requests per {seconds} seconds. "
        f"Retry after {retry_after} seconds.",
        "code": "rate_limited",
    }


async def get(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.get(DATASETS, headers=key_headers(key))


async def statuses(client: httpx.AsyncClient, *keys: str) -> list[int]:
    return [(await get(client, key)).status_code for key in keys]


async def make_key_with(
    client: httpx.AsyncClient, maker: str, rate_limit: tuple[int, int] | None = None
) -> dict[str, str]:
    """A key made through the API by the key `maker`."""
    body: dict[str, object] = {"name": "made"}
    if rate_limit is not None:
        body["rate_limit"] = {"requests": rate_limit[0], "per_seconds": rate_limit[1]}
    made = await client.post(KEYS, json=body, headers=key_headers(maker))
    assert made.status_code == 201, made.json()
    created: dict[str, str] = made.json()
    return created


async def test_a_successor_shares_its_predecessors_window_and_rotating_again_does_not_help(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, clock: Clock
) -> None:
    key_id, key = await make_api_key(db, tenant_a, rate_limit=(3, 3600))
    assert await statuses(client, key, key) == [200, 200]
    # Its third request of the hour rotates it, with a week of grace.
    rotated = await client.post(
        f"{KEYS}/{key_id}/rotate", json={"grace_period_seconds": A_WEEK}, headers=key_headers(key)
    )
    assert rotated.status_code == 201
    successor = rotated.json()
    for refused_key in (successor["key"], key):
        refused = await get(client, refused_key)
        assert (refused.status_code, refused.json()) == (429, exceeded(3, 3600, 3600))
        assert refused.headers["RateLimit-Policy"] == '"key";q=3;w=3600'
        assert refused.headers["RateLimit"] == '"key";r=0;t=3600'
    # Rotating again (by the tenant's unlimited key: the successor cannot even ask)
    # gives a third key of the same family, with the same spent window.
    again = await client.post(
        f"{KEYS}/{successor['id']}/rotate",
        json={"grace_period_seconds": A_WEEK},
        headers=tenant_a.headers,
    )
    assert again.status_code == 201
    assert await statuses(client, again.json()["key"], successor["key"], key) == [429] * 3

    clock.now += 3600  # the window's three requests leave it
    assert await statuses(client, again.json()["key"], successor["key"], key) == [200] * 3
    assert await statuses(client, again.json()["key"]) == [429]


async def test_a_made_key_counts_in_its_makers_window_and_in_its_own(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, clock: Clock
) -> None:
    _, maker = await make_api_key(db, tenant_a, rate_limit=(5, 3600))
    # 3 in any 7200 s is no more than the maker's 5 in any 3600 s: allowed.
    child = (await make_key_with(client, maker, (3, 7200)))["key"]  # the maker's 1st
    first = await get(client, child)
    assert first.status_code == 200
    # The current draft's fields name every window of the lineage, the child's own and
    # its maker's; draft 06's describe the tightest: the child's own (2 left, the maker's 3).
    assert first.headers["RateLimit-Policy"] == '"key";q=3;w=7200, "maker-1";q=5;w=3600'
    assert first.headers["RateLimit"] == '"key";r=2;t=7200, "maker-1";r=3;t=3600'
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("3", "2")
    assert await statuses(client, child, maker, maker) == [200, 200, 200]
    # The maker's window is spent (its own 3 requests and the child's 2): the child,
    # with a place left in its own window, is refused, named by the maker's window.
    refused = await get(client, child)
    assert (refused.status_code, refused.json()) == (429, exceeded(5, 3600, 3600))
    assert refused.headers["RateLimit"] == '"key";r=1;t=7200, "maker-1";r=0;t=3600'
    assert (refused.headers["RateLimit-Limit"], refused.headers["Retry-After"]) == ("5", "3600")

    clock.now += 3600  # the maker's window empties; the child's (7200 s) still holds 2
    # The refused request was not counted in the child's window: one place is left.
    last = await get(client, child)
    assert (last.status_code, last.headers["RateLimit-Remaining"]) == (200, "0")
    # Now the child's own window refuses it, while the maker's has room.
    refused = await get(client, child)
    assert (refused.status_code, refused.json()) == (429, exceeded(3, 7200, 3600))
    assert await statuses(client, maker) == [200]


async def test_a_grandchild_counts_in_its_makers_window_and_in_theirs(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, clock: Clock
) -> None:
    _, maker = await make_api_key(db, tenant_a, rate_limit=(10, 3600))
    child = (await make_key_with(client, maker, (5, 7200)))["key"]  # maker: 1
    grandchild = (await make_key_with(client, child, (5, 14400)))["key"]  # maker: 2, child: 1
    assert await statuses(client, *[grandchild] * 4) == [200] * 4  # maker: 6, child: 5
    refused = await get(client, grandchild)
    assert (refused.status_code, refused.json()) == (429, exceeded(5, 7200, 7200))
    # Nor was the refused request counted in the grandmaker's window: 7 of its 10 used.
    counted = await get(client, maker)
    assert (counted.status_code, counted.headers["RateLimit-Remaining"]) == (200, "3")

    clock.now += 7200  # both makers' windows empty; the grandchild's holds its 4
    assert await statuses(client, grandchild, grandchild) == [200, 429]


async def test_a_makers_new_limit_applies_to_the_keys_it_made_from_their_next_request(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, clock: Clock
) -> None:
    maker_id, maker = await make_api_key(db, tenant_a, rate_limit=(100, 3600))
    child = (await make_key_with(client, maker))["key"]  # inherits 100 per 3600 s
    assert await statuses(client, child) == [200]  # cached; the maker's window holds 2
    tighter = {"rate_limit": {"requests": 2, "per_seconds": 3600}}
    patched = await client.patch(f"{KEYS}/{maker_id}", json=tighter, headers=tenant_a.headers)
    assert patched.status_code == 200
    refused = await get(client, child)
    assert (refused.status_code, refused.json()) == (429, exceeded(2, 3600, 3600))

    # A maker without a limit when it made the key binds it as soon as it gets one.
    free_id, free_maker = await make_api_key(db, tenant_a)
    free_child = (await make_key_with(client, free_maker))["key"]
    assert "RateLimit-Limit" not in (await get(client, free_child)).headers  # cached
    limited = {"rate_limit": {"requests": 1, "per_seconds": 60}}
    assert (
        await client.patch(f"{KEYS}/{free_id}", json=limited, headers=tenant_a.headers)
    ).status_code == 200
    bound = await get(client, free_child)
    # The key has no limit of its own: its one window is its maker's.
    assert (bound.status_code, bound.headers["RateLimit-Policy"]) == (200, '"maker-1";q=1;w=60')
    assert await statuses(client, free_child) == [429]

    lifted = await client.patch(
        f"{KEYS}/{free_id}", json={"rate_limit": None}, headers=tenant_a.headers
    )
    assert lifted.status_code == 200
    assert "RateLimit-Limit" not in (await get(client, free_child)).headers


async def test_a_limit_set_on_a_successor_is_its_predecessors_too(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, clock: Clock
) -> None:
    key_id, key = await make_api_key(db, tenant_a, rate_limit=(100, 3600))
    rotated = await client.post(
        f"{KEYS}/{key_id}/rotate", json={"grace_period_seconds": A_WEEK}, headers=tenant_a.headers
    )
    successor = rotated.json()
    assert await statuses(client, key) == [200]  # cached
    tighter = {"rate_limit": {"requests": 2, "per_seconds": 3600}}
    patched = await client.patch(
        f"{KEYS}/{successor['id']}", json=tighter, headers=tenant_a.headers
    )
    assert patched.status_code == 200
    assert await statuses(client, key, successor["key"]) == [200, 429]
    listed = {k["id"]: k for k in (await client.get(KEYS, headers=tenant_a.headers)).json()}
    assert listed[str(key_id)]["rate_limit"] == tighter["rate_limit"]


async def test_another_worker_applies_a_makers_new_limit_to_the_keys_it_made(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    tenant_a: TenantFixture,
) -> None:
    await ready(app)
    maker_id, maker = await make_api_key(db, tenant_a, rate_limit=(100, 3600))
    child = (await make_key_with(client, maker))["key"]
    async with asgi_client(second_worker) as other:
        assert await statuses(other, child) == [200]  # cached there, counted there
        tighter = {"rate_limit": {"requests": 1, "per_seconds": 3600}}
        patched = await client.patch(f"{KEYS}/{maker_id}", json=tighter, headers=tenant_a.headers)
        assert patched.status_code == 200
        refused = await first_refusal(other, child)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Rate limit exceeded: 1 requests per 3600 seconds.")


def test_a_family_and_its_makers_windows_are_exact_across_workers_with_redis(
    limited_servers: list[LiveServer],
) -> None:
    first = limited_servers[0]
    owner = first.create_tenant()["api_key"]
    limited = httpx.post(
        f"{first.base_url}{KEYS}",
        json={"name": "Limited", "rate_limit": {"requests": 20, "per_seconds": 3600}},
        headers=key_headers(owner),
    ).json()
    # The limited key rotates itself and makes a key: 2 of its family's 20.
    successor = httpx.post(
        f"{first.base_url}{KEYS}/{limited['id']}/rotate",
        json={"grace_period_seconds": A_WEEK},
        headers=key_headers(limited["key"]),
    ).json()
    child = httpx.post(
        f"{first.base_url}{KEYS}", json={"name": "made"}, headers=key_headers(successor["key"])
    ).json()
    keys = [limited["key"], successor["key"], child["key"]]
    results = spread_requests(limited_servers, keys, 40)
    assert results.count(200) == 18
    assert results.count(429) == 22


def test_a_change_to_a_family_drops_every_cached_key_of_its_lineage() -> None:
    cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=60)
    maker_family, child_family, other_family = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def principal(*families: uuid.UUID) -> Principal:
        return Principal(uuid.uuid4(), uuid.uuid4(), "rl_live_abcd", (), None, None, families)

    cache.put("maker", principal(maker_family), generation=cache.generation)
    cache.put("child", principal(child_family, maker_family), generation=cache.generation)
    cache.put("other", principal(other_family), generation=cache.generation)
    generation = cache.generation  # a load starts
    cache.forget_family(maker_family)
    assert (cache.get("maker"), cache.get("child")) == (None, None)
    assert cache.get("other") is not None
    cache.put("child", principal(child_family, maker_family), generation=generation)
    assert cache.get("child") is None  # loaded before the change: not cached
    cache.forget_family(child_family)  # nothing of it cached any more: nothing breaks
    assert len(cache) == 1


@pytest.mark.backend_independent
def test_upgrading_puts_successors_in_their_predecessors_family_and_names_makers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    upgrade_database(settings, "0010")
    tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
    first, second, third, made, by_user, stranger = (uuid.uuid4() for _ in range(6))
    rows = [
        # (id, tenant, created_by, replaced_by_id)
        (first, tenant, None, second),  # rotated into second, then into third
        (second, tenant, None, third),
        (third, tenant, f"api_key:{made}", None),  # rotated by `made`
        (made, tenant, f"api_key:{first}", None),
        (by_user, tenant, f"user:{uuid.uuid4()}", None),
        (stranger, other_tenant, f"api_key:{first}", None),  # not its tenant's key
    ]
    with sqlite3.connect(path) as connection:
        for tenant_id in (tenant, other_tenant):
            connection.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, 'T', '2026-12-01')",
                (tenant_id.hex,),
            )
        for number, (key_id, tenant_id, created_by, replaced_by) in enumerate(rows):
            connection.execute(
                "INSERT INTO api_keys (id, tenant_id, name, key_prefix, key_hash, scopes, "
                "created_at, created_by, replaced_by_id) "
                "VALUES (?, ?, 'K', 'rl_live_ab', ?, '[]', '2026-12-01', ?, ?)",
                (key_id.hex, tenant_id.hex, f"{number:064d}", created_by,
                 replaced_by.hex if replaced_by else None),
            )  # fmt: skip

    upgrade_database(settings)

    with sqlite3.connect(path) as connection:
        found = {
            uuid.UUID(key_id): (
                uuid.UUID(family_id),
                uuid.UUID(made_by_id) if made_by_id else None,
            )
            for key_id, family_id, made_by_id in connection.execute(
                "SELECT id, family_id, made_by_id FROM api_keys"
            )
        }
    assert found == {
        first: (first, None),
        second: (first, None),
        third: (first, made),
        made: (made, first),
        by_user: (by_user, None),
        stranger: (stranger, None),
    }
