"""Quotas with refill: at most `requests` accepted per UTC day, month or ever, counted
over a key's family and lineage, exact across workers (the count is the database's;
workers lease units of it), with the current draft's RateLimit fields naming them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from relay.db import Database
from relay.limits.quotas import Quota, QuotaLedger, resets_at
from tests.auth.workers import ready
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_api_key

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
EXHAUSTED = {"detail": "API key quota exhausted", "code": "quota_exhausted"}


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    created = await client.post(KEYS, json={"name": "Metered"} | fields, headers=headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_daily_quota_refuses_past_its_requests_until_the_day_ends(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    key = await create_key(client, tenant_a.headers, quota={"requests": 3, "period": "day"})
    assert key["quota"]["remaining"] == 3
    headers = {"X-API-Key": key["key"]}
    answers = [await client.get(DATASETS, headers=headers) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"quota";q=3;w=86400'
    assert answers[1].headers["RateLimit"].startswith('"quota";r=1;t=')
    refused = answers[3]
    assert refused.json() == EXHAUSTED
    midnight = resets_at("day", datetime.now(UTC))
    assert midnight is not None
    assert (
        0
        < int(refused.headers["Retry-After"])
        <= (midnight - datetime.now(UTC)).total_seconds() + 2
    )
    read = (await client.get(f"{KEYS}/{key['id']}", headers=tenant_a.headers)).json()
    assert read["quota"] == {
        "requests": 3,
        "period": "day",
        "remaining": 0,
        "resets_at": midnight.isoformat().replace("+00:00", "Z"),
    }


async def test_a_quota_of_none_never_refills_and_says_so(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    key = await create_key(client, tenant_a.headers, quota={"requests": 1, "period": "none"})
    headers = {"X-API-Key": key["key"]}
    assert (await client.get(DATASETS, headers=headers)).status_code == 200
    refused = await client.get(DATASETS, headers=headers)
    assert (refused.status_code, refused.json()) == (429, EXHAUSTED)
    assert "Retry-After" not in refused.headers
    assert refused.headers["RateLimit-Policy"] == '"quota";q=1'
    assert (await client.get(f"{KEYS}/{key['id']}", headers=tenant_a.headers)).json()["quota"][
        "resets_at"
    ] is None


async def test_quotas_refill_each_day_and_month(db: Database, tenant_a: TenantFixture) -> None:
    """The ledger on the suite's database, its clock moved: a new period counts anew."""
    now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    ledger = QuotaLedger(db.engine, clock=lambda: now)
    daily = Quota(tenant_a.key_id, 2, "day")
    monthly = Quota(tenant_a.key_id, 3, "month")
    taken = [(await ledger.take([daily]))[0].allowed for _ in range(3)]
    assert taken == [True, True, False]
    now += timedelta(hours=2)  # 2027-01-01: a new day and a new month
    ledger_next_day = QuotaLedger(db.engine, clock=lambda: now)
    assert (await ledger_next_day.take([daily]))[0].allowed
    monthly_taken = [(await ledger_next_day.take([monthly]))[0].allowed for _ in range(4)]
    assert monthly_taken == [True, True, True, False]


async def test_requests_at_once_never_exceed_the_quota(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    key = await create_key(client, tenant_a.headers, quota={"requests": 10, "period": "day"})
    headers = {"X-API-Key": key["key"]}
    answers = await asyncio.gather(*(client.get(DATASETS, headers=headers) for _ in range(30)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 10 + [429] * 20


async def test_two_workers_share_one_count_exactly(
    app: FastAPI,
    second_worker: FastAPI,
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
) -> None:
    """Two processes' worth of apps on one PostgreSQL database: never more than the
    quota between them, whatever their leases."""
    await ready(app)
    key = await create_key(client, tenant_a.headers, quota={"requests": 25, "period": "day"})
    headers = {"X-API-Key": key["key"]}
    async with asgi_client(second_worker) as other:
        answers = await asyncio.gather(
            *(
                (client if number % 2 else other).get(DATASETS, headers=headers)
                for number in range(60)
            )
        )
    assert sum(answer.status_code == 200 for answer in answers) <= 25
    assert {answer.status_code for answer in answers} == {200, 429}


async def test_a_rate_limit_refusal_gives_its_unit_back(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    key = await create_key(
        client,
        tenant_a.headers,
        quota={"requests": 100, "period": "day"},
        rate_limit={"requests": 2, "per_seconds": 3600},
    )
    headers = {"X-API-Key": key["key"]}
    statuses = [(await client.get(DATASETS, headers=headers)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    answer = await client.get(DATASETS, headers=headers)
    assert '"quota";r=98' in answer.headers["RateLimit"]


async def test_a_quota_follows_the_family_and_the_keys_it_made(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    maker = await create_key(
        client,
        tenant_a.headers,
        scopes=["api_keys:write", "datasets:read"],
        quota={"requests": 5, "period": "day"},
    )
    maker_headers = {"X-API-Key": maker["key"]}
    reader = {"name": "x", "scopes": ["datasets:read"]}
    larger = await client.post(
        KEYS, json=reader | {"quota": {"requests": 6, "period": "day"}}, headers=maker_headers
    )
    monthly_maker = await create_key(
        client,
        tenant_a.headers,
        scopes=["api_keys:write", "datasets:read"],
        quota={"requests": 5, "period": "month"},
    )
    refills_sooner = await client.post(
        KEYS,
        json=reader | {"quota": {"requests": 3, "period": "day"}},
        headers={"X-API-Key": monthly_maker["key"]},
    )
    assert (larger.status_code, refills_sooner.status_code) == (403, 403)
    child = await create_key(client, maker_headers, scopes=["datasets:read"])
    assert child["quota"]["requests"] == 5  # the maker's, counted apart and in the maker's
    # The maker spent two of its five on its own requests (the refused create, this one).
    child_headers = {"X-API-Key": child["key"]}
    statuses = [(await client.get(DATASETS, headers=child_headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    answer = await client.get(DATASETS, headers=child_headers)
    assert answer.json() == EXHAUSTED
    assert answer.headers["RateLimit"].startswith('"quota";r=2;t=')
    assert '"maker-1-quota";r=0' in answer.headers["RateLimit"]
    assert (await client.get(DATASETS, headers=maker_headers)).status_code == 429

    rotated = await client.post(
        f"{KEYS}/{child['id']}/rotate", json={"grace_period_seconds": 0}, headers=tenant_a.headers
    )
    successor = {"X-API-Key": rotated.json()["key"]}
    assert (await client.get(DATASETS, headers=successor)).status_code == 429  # the same count


async def test_a_quota_set_on_a_key_is_its_familys_and_null_removes_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    key = await create_key(client, tenant_a.headers)
    assert "quota" not in key  # a key without one has exactly the guide's shape
    set_ = await client.patch(
        f"{KEYS}/{key['id']}",
        json={"quota": {"requests": 1, "period": "month"}},
        headers=tenant_a.headers,
    )
    assert set_.json()["quota"]["period"] == "month"
    headers = {"X-API-Key": key["key"]}
    assert [(await client.get(DATASETS, headers=headers)).status_code for _ in range(2)] == [
        200,
        429,
    ]
    removed = await client.patch(
        f"{KEYS}/{key['id']}", json={"quota": None}, headers=tenant_a.headers
    )
    assert "quota" not in removed.json()
    assert (await client.get(DATASETS, headers=headers)).status_code == 200
    bad = await client.patch(
        f"{KEYS}/{key['id']}",
        json={"quota": {"requests": 0, "period": "week"}},
        headers=tenant_a.headers,
    )
    assert bad.status_code == 422


async def test_a_quota_changed_while_another_of_the_request_leases_refuses_cleanly(
    db: Database, tenant_a: TenantFixture
) -> None:
    """A request holds a unit of its own quota while another of its quotas leases; if
    the first changes meanwhile (a PATCH, or midnight), the refusal gives nothing back
    to a lease that is gone, and answers (it failed with a KeyError: a 500)."""
    other_id, _ = await make_api_key(db, tenant_a)
    ledger = QuotaLedger(db.engine)
    own = Quota(tenant_a.key_id, 1000, "day")
    spent = Quota(other_id, 1, "day")
    assert [decision.allowed for decision in await ledger.take([own, spent])] == [True, True]
    lowered = Quota(tenant_a.key_id, 999, "day")
    # The first request finds its own unit at once, then waits on the database for
    # `spent`; the second, under the lowered quota, moves the family on meanwhile.
    refused, after = await asyncio.gather(ledger.take([own, spent]), ledger.take([lowered]))
    assert [decision.allowed for decision in refused] == [True, False]
    assert [decision.allowed for decision in after] == [True]
