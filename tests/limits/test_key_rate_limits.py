"""A key's own rate limit: RateLimit-* headers on every answer, 429 with Retry-After
past it, changes that apply at once, and an exact count across workers and servers
when Redis is configured, which requests survive Redis stopping."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import httpx

from relay.config import Settings
from relay.db import Database
from tests.factories import TenantFixture, key_headers, make_api_key
from tests.limits.conftest import spread_requests
from tests.live_server import LiveServer, run_server
from tests.redis_server import run_redis

DATASETS = "/api/v1/datasets"
KEYS = "/api/v1/auth/api-keys"
MISSING = "/api/v1/datasets/00000000-0000-4000-8000-000000000000"
METRICS_TOKEN = "test-metrics-token"


async def test_every_answer_to_a_limited_key_carries_its_ratelimit_headers(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, key = await make_api_key(db, tenant_a, rate_limit=(5, 60))
    ok = await client.get(DATASETS, headers=key_headers(key))
    # The current draft's fields (draft-ietf-httpapi-ratelimit-headers, structured
    # fields), then draft 06's, kept for the clients written against it.
    assert ok.headers["RateLimit-Policy"] == '"key";q=5;w=60'
    assert re.fullmatch(r'"key";r=4;t=(59|60)', ok.headers["RateLimit"])
    assert ok.headers["RateLimit-Limit"] == "5"
    assert ok.headers["RateLimit-Remaining"] == "4"
    assert 59 <= int(ok.headers["RateLimit-Reset"]) <= 60
    missing = await client.get(MISSING, headers=key_headers(key))
    assert (missing.status_code, missing.headers["RateLimit-Remaining"]) == (404, "3")
    made = await client.post(DATASETS, json={"name": "x"}, headers=key_headers(key))
    deleted = await client.delete(f"{DATASETS}/{made.json()['id']}", headers=key_headers(key))
    assert (deleted.status_code, deleted.headers["RateLimit-Remaining"]) == (204, "1")
    # A key without a limit of its own gets none of these headers.
    assert "RateLimit-Limit" not in (await client.get(DATASETS, headers=tenant_a.headers)).headers


async def test_past_the_limit_is_429_with_retry_after_and_other_keys_go_on(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, key = await make_api_key(db, tenant_a, rate_limit=(3, 60))
    statuses = [
        (await client.get(DATASETS, headers=key_headers(key))).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = await client.get(DATASETS, headers=key_headers(key))
    retry_after = limited.headers["Retry-After"]
    assert limited.json() == {
        "detail": "Rate limit exceeded: 3 requests per 60 seconds. "
        f"Retry after {retry_after} seconds.",
        "code": "rate_limited",
    }
    assert 1 <= int(retry_after) <= 60
    # The refusing window has nothing left until Retry-After: the draft's effective
    # window ends when Retry-After does, never later.
    assert limited.headers["RateLimit"] == f'"key";r=0;t={retry_after}'
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert (await client.get(DATASETS, headers=tenant_a.headers)).status_code == 200


async def test_a_new_limit_applies_from_the_next_request(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, key = await make_api_key(db, tenant_a)
    assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200  # cached
    response = await client.patch(
        f"{KEYS}/{key_id}",
        json={"name": "Batch job", "rate_limit": {"requests": 1, "per_seconds": 3600}},
        headers=tenant_a.headers,
    )
    assert response.status_code == 200
    assert response.json()["rate_limit"] == {"requests": 1, "per_seconds": 3600}
    assert response.json()["name"] == "Batch job"
    assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200
    assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 429
    removed = await client.patch(
        f"{KEYS}/{key_id}", json={"rate_limit": None}, headers=tenant_a.headers
    )
    assert "rate_limit" not in removed.json()
    assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200


def test_limit_is_exact_across_workers_and_servers(limited_servers: list[LiveServer]) -> None:
    first = limited_servers[0]
    owner_key = first.create_tenant()["api_key"]
    created = httpx.post(
        f"{first.base_url}{KEYS}",
        json={"name": "Limited", "rate_limit": {"requests": 20, "per_seconds": 60}},
        headers=key_headers(owner_key),
    ).json()
    statuses = spread_requests(limited_servers, [created["key"]], 40)
    assert Counter(statuses) == {200: 20, 429: 20}


def metric(server: LiveServer, name: str) -> float:
    text = httpx.get(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ).text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )
    return float(line.rsplit(" ", 1)[1])


def test_requests_go_on_when_redis_stops_and_limits_are_shared_again_after(
    settings: Settings, tmp_path: Path
) -> None:
    with run_redis() as redis:
        env = {"RELAY_REDIS_URL": redis.url, "RELAY_METRICS_TOKEN": METRICS_TOKEN}
        log = tmp_path / "serve.log"
        with run_server(settings.database_url, log, env=env) as server:
            owner_key = server.create_tenant()["api_key"]
            limited = httpx.post(
                f"{server.base_url}{KEYS}",
                json={"name": "Limited", "rate_limit": {"requests": 3, "per_seconds": 3600}},
                headers=key_headers(owner_key),
            ).json()["key"]
            get = lambda key: httpx.get(f"{server.base_url}{DATASETS}", headers=key_headers(key))  # noqa: E731
            assert get(limited).status_code == 200  # one of 3 counted in Redis
            assert metric(server, "relay_redis_up") == 1

            redis.stop()
            # The valid key is never refused; bad keys are still counted (per process).
            assert [get(owner_key).status_code for _ in range(5)] == [200] * 5
            assert [get(limited).status_code for _ in range(4)] == [200, 200, 200, 429]
            assert metric(server, "relay_redis_up") == 0
            assert metric(server, "relay_redis_failures_total") >= 1
            assert "Redis does not answer" in log.read_text()

            redis.start()  # an empty Redis: the key's window starts afresh there
            # Counting moves back to Redis at the first call after the retry
            # interval (1 s): poll with the limited key until the server says so.
            deadline = time.monotonic() + 10
            while metric(server, "relay_redis_up") == 0:
                assert time.monotonic() < deadline, "limits never went back to Redis"
                get(limited)
            # The call that found Redis again counted one; two more fit in its window.
            assert [get(limited).status_code for _ in range(3)] == [200, 200, 429]
            assert "Redis answers again" in log.read_text()


async def test_renaming_to_null_is_refused(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    key_id, _ = await make_api_key(db, tenant_a, name="Kept")
    response = await client.patch(f"{KEYS}/{key_id}", json={"name": None}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert (await client.get(f"{KEYS}/{key_id}", headers=tenant_a.headers)).json()["name"] == "Kept"
