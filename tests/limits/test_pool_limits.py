"""A limit pool's rate limit and quota bind every key in it: each request counts in the
pool's window and quota as well as the key's own, the tightest decides, the RateLimit
fields name the pool's, and the count is exact across workers and servers (the window in
Redis, the quota in the database). A change to a pool reaches its keys from their next
request, on every worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI

from tests.auth.workers import first_refusal, ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, key_headers
from tests.limits.conftest import Clock, spread_requests
from tests.live_server import LiveServer

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"
POOLS = "/api/v1/limit-pools"
EXHAUSTED = {"detail": "API key quota exhausted", "code": "quota_exhausted"}


async def post(client: httpx.AsyncClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def pooled_keys(
    client: httpx.AsyncClient, tenant: TenantFixture, count: int, **pool: Any
) -> tuple[dict[str, Any], list[str]]:
    made = await post(client, POOLS, tenant.headers, name="Shared", **pool)
    keys = [
        (await post(client, KEYS, tenant.headers, name=f"Key {n}", pool_id=made["id"]))["key"]
        for n in range(count)
    ]
    return made, keys


async def status(client: httpx.AsyncClient, key: str) -> int:
    return (await client.get(DATASETS, headers=key_headers(key))).status_code


async def test_keys_in_a_pool_share_its_window_and_the_fields_name_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture, clock: Clock
) -> None:
    _, (first, second) = await pooled_keys(
        client, tenant_a, 2, rate_limit={"requests": 3, "per_seconds": 60}
    )
    answer = await client.get(DATASETS, headers=key_headers(first))
    assert answer.headers["RateLimit-Policy"] == '"pool";q=3;w=60'
    assert answer.headers["RateLimit"] == '"pool";r=2;t=60'
    assert [await status(client, key) for key in (second, first, second)] == [200, 200, 429]
    refused = await client.get(DATASETS, headers=key_headers(first))
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Rate limit exceeded: 3 requests per 60")
    # A key of the tenant outside the pool is not counted in it.
    assert await status(client, tenant_a.key) == 200
    clock.now += 60
    assert await status(client, second) == 200


async def test_the_tightest_of_the_keys_and_the_pools_limits_decides(
    client: httpx.AsyncClient, tenant_a: TenantFixture, clock: Clock
) -> None:
    pool = await post(
        client,
        POOLS,
        tenant_a.headers,
        name="Roomy",
        rate_limit={"requests": 10, "per_seconds": 60},
    )
    tight = await post(
        client, KEYS, tenant_a.headers, name="Tight", pool_id=pool["id"],
        rate_limit={"requests": 2, "per_seconds": 60},
    )  # fmt: skip
    answers = [await client.get(DATASETS, headers=key_headers(tight["key"])) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"key";q=2;w=60, "pool";q=10;w=60'
    # Draft 06's fields describe the tightest window: the key's own.
    assert answers[1].headers["RateLimit-Remaining"] == "0"
    assert answers[1].headers["RateLimit-Limit"] == "2"
    # The refused request was counted in neither: the pool has 8 left, not 7.
    other = await post(client, KEYS, tenant_a.headers, name="Other", pool_id=pool["id"])
    shown = await client.get(DATASETS, headers=key_headers(other["key"]))
    assert shown.headers["RateLimit"] == '"pool";r=7;t=60'


async def test_a_pools_quota_is_shared_by_its_keys_and_shown_on_the_pool(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    pool, keys = await pooled_keys(client, tenant_a, 3, quota={"requests": 4, "period": "day"})
    answers = [await client.get(DATASETS, headers=key_headers(keys[n % 3])) for n in range(5)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 429]
    assert answers[4].json() == EXHAUSTED
    assert answers[0].headers["RateLimit-Policy"] == '"pool-quota";q=4;w=86400'
    read = (await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)).json()
    assert (read["quota"]["remaining"], read["key_count"]) == (0, 3)
    # Raising the pool's quota lets its keys through again at once.
    raised = await client.patch(
        f"{POOLS}/{pool['id']}",
        json={"quota": {"requests": 6, "period": "day"}},
        headers=tenant_a.headers,
    )
    assert raised.json()["quota"]["remaining"] == 2
    assert await status(client, keys[0]) == 200


async def test_a_lowered_quota_holds_at_once_though_units_were_leased_under_the_old(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    # The first request leases a batch of units under 1,000 a day; none of them may be
    # handed out once the quota is 1.
    pool, (pooled,) = await pooled_keys(
        client, tenant_a, 1, quota={"requests": 1000, "period": "day"}
    )
    own = await post(
        client, KEYS, tenant_a.headers, name="Own quota", quota={"requests": 1000, "period": "day"}
    )
    for key, path in ((pooled, f"{POOLS}/{pool['id']}"), (own["key"], f"{KEYS}/{own['id']}")):
        assert await status(client, key) == 200
        lowered = await client.patch(
            path, json={"quota": {"requests": 1, "period": "day"}}, headers=tenant_a.headers
        )
        assert lowered.status_code == 200
        assert [await status(client, key) for _ in range(3)] == [429, 429, 429], path


async def test_requests_at_once_never_exceed_a_pools_quota(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    _, keys = await pooled_keys(client, tenant_a, 3, quota={"requests": 10, "period": "day"})
    answers = await asyncio.gather(
        *(client.get(DATASETS, headers=key_headers(keys[n % 3])) for n in range(30))
    )
    assert sorted(answer.status_code for answer in answers) == [200] * 10 + [429] * 20


async def test_two_workers_never_exceed_a_pools_quota_without_redis(
    app: FastAPI, second_worker: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await ready(app)
    _, keys = await pooled_keys(client, tenant_a, 2, quota={"requests": 25, "period": "day"})
    async with asgi_client(second_worker) as other:
        answers = await asyncio.gather(
            *(
                (client if n % 2 else other).get(DATASETS, headers=key_headers(keys[n % 4 // 2]))
                for n in range(60)
            )
        )
    assert sum(answer.status_code == 200 for answer in answers) <= 25
    assert {answer.status_code for answer in answers} == {200, 429}


async def test_a_pools_new_limit_reaches_its_keys_on_every_worker(
    app: FastAPI, second_worker: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await ready(app)
    pool, (key,) = await pooled_keys(client, tenant_a, 1)
    async with asgi_client(second_worker) as other:
        assert await status(other, key) == 200  # cached there, without a limit
        await client.patch(
            f"{POOLS}/{pool['id']}", json={"quota": {"requests": 1, "period": "none"}},
            headers=tenant_a.headers,
        )  # fmt: skip
        refused = await first_refusal(other, key)
    assert (refused.status_code, refused.json()) == (429, EXHAUSTED)


def test_a_pools_window_and_quota_are_exact_across_servers_with_redis(
    limited_servers: list[LiveServer],
) -> None:
    first = limited_servers[0]
    owner = key_headers(first.create_tenant()["api_key"])
    pool = httpx.post(
        f"{first.base_url}{POOLS}",
        json={"name": "Shared", "rate_limit": {"requests": 20, "per_seconds": 3600}},
        headers=owner,
    ).json()
    keys = [
        httpx.post(
            f"{first.base_url}{KEYS}",
            json={"name": f"Key {n}", "pool_id": pool["id"]},
            headers=owner,
        ).json()["key"]
        for n in range(3)
    ]
    statuses = spread_requests(limited_servers, keys, 40)
    assert Counter(statuses) == {200: 20, 429: 20}
    # Now a quota smaller than what is left of the window: the quota decides.
    httpx.patch(
        f"{first.base_url}{POOLS}/{pool['id']}",
        json={"rate_limit": None, "quota": {"requests": 7, "period": "none"}},
        headers=owner,
    ).raise_for_status()
    statuses = spread_requests(limited_servers, keys, 30)
    assert Counter(statuses) == {200: 7, 429: 23}


async def test_requests_at_once_never_exceed_a_keys_quota_in_a_pool_with_one(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    """Two quotas on one request (the key's, the pool's): a unit of each is held from
    the moment it is found until the request is decided, so requests at once cannot
    all pass on the same unit while the other quota is being leased."""
    pool = await post(
        client, POOLS, tenant_a.headers, name="Roomy", quota={"requests": 1000, "period": "day"}
    )
    key = await post(
        client, KEYS, tenant_a.headers, name="Metered", pool_id=pool["id"],
        quota={"requests": 10, "period": "day"},
    )  # fmt: skip
    answers = await asyncio.gather(
        *(client.get(DATASETS, headers=key_headers(key["key"])) for _ in range(30))
    )
    assert sorted(answer.status_code for answer in answers) == [200] * 10 + [429] * 20
    read = (await client.get(f"{POOLS}/{pool['id']}", headers=tenant_a.headers)).json()
    # The pool counted the 10 accepted requests, and the units leased and not used.
    assert read["quota"]["remaining"] <= 990
