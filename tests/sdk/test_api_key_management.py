"""Managing keys beyond create and revoke, against a real server with both clients: reading
one, renaming and rate limits, rotation with a grace period, usage per day, and a key
list that pages through its Link header."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from relay_sdk import (
    NOT_GIVEN,
    ApiKeyDetail,
    ApiKeyUsage,
    AuthenticationError,
    ConflictError,
    CreatedApiKey,
    KeyClient,
    KeyPolicy,
    KeyQuota,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    UsageDay,
)
from tests.factories import TenantFixture
from tests.sdk.conftest import Connect, FaultyLink, record_uses

pytestmark = pytest.mark.backend_independent


async def test_get_reads_one_key_until_it_is_revoked(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("CI", scopes=["datasets:read"])
    read = await relay.api_keys.get(created.id)
    assert type(read) is ApiKeyDetail  # never the key itself
    assert (read.id, read.name, read.scopes, read.rate_limit) == (
        created.id,
        "CI",
        ("datasets:read",),
        None,
    )
    await relay.api_keys.revoke(created.id)
    with pytest.raises(NotFoundError):
        await relay.api_keys.get(created.id)


async def test_update_renames_and_sets_or_removes_the_rate_limit(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Batch", rate_limit=RateLimit(600, 60))
    assert created.rate_limit == RateLimit(requests=600, per_seconds=60)

    renamed = await relay.api_keys.update(created.id, name="Nightly batch")
    assert (renamed.name, renamed.rate_limit) == ("Nightly batch", RateLimit(600, 60))
    tightened = await relay.api_keys.update(created.id, rate_limit=RateLimit(10, 1))
    assert (tightened.name, tightened.rate_limit) == ("Nightly batch", RateLimit(10, 1))
    kept = await relay.api_keys.update(created.id, name="Batch", rate_limit=NOT_GIVEN)
    assert kept.rate_limit == RateLimit(10, 1)
    unlimited = await relay.api_keys.update(created.id, rate_limit=None)
    assert unlimited.rate_limit is None
    assert (await relay.api_keys.get(created.id)).rate_limit is None


async def test_rotate_shows_the_new_key_once_and_the_old_one_works_through_the_grace(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    old = await relay.api_keys.create(
        "Deploy", scopes=["datasets:read"], rate_limit=RateLimit(600, 60)
    )
    new = await relay.api_keys.rotate(old.id, grace_period_seconds=3600)
    assert isinstance(new, CreatedApiKey)
    assert new.key not in repr(new)
    assert (new.name, new.scopes, new.rate_limit) == (old.name, old.scopes, old.rate_limit)
    assert (new.id, new.key) != (old.id, old.key)
    for key in (old.key, new.key):
        assert (await connect(key).datasets.list()).total == 0

    with pytest.raises(ConflictError) as refused:
        await relay.api_keys.rotate(old.id)
    assert refused.value.status_code == 409
    assert "already being rotated" in refused.value.detail


async def test_rotate_without_grace_expires_the_old_key_at_once(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    old = await relay.api_keys.create("Leaked")
    new = await relay.api_keys.rotate(old.id, grace_period_seconds=0)
    with pytest.raises(AuthenticationError) as refused:
        await connect(old.key).datasets.list()
    assert refused.value.expired
    assert (await connect(new.key).datasets.list()).total == 0


async def test_usage_reads_requests_per_day_by_status_class(
    connect: Connect, api_key: str, app: FastAPI, tenant_a: TenantFixture
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Counted")
    await record_uses(app, tenant_a, created.id, [200, 200, 201, 404])

    usage = await relay.api_keys.usage(created.id, days=7)
    assert isinstance(usage, ApiKeyUsage)
    assert usage.key_id == created.id
    assert len(usage.days) == 7
    today = usage.days[-1]
    assert isinstance(today, UsageDay)
    assert type(today.date) is date
    assert today.date == datetime.now(UTC).date()
    assert (today.total, dict(today.by_status)) == (4, {"2xx": 3, "3xx": 0, "4xx": 1, "5xx": 0})
    assert [day.total for day in usage.days[:-1]] == [0] * 6


async def test_list_follows_the_link_header_to_every_key(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    names = [f"Key {number}" for number in range(4)]
    for name in names:
        await relay.api_keys.create(name)
    expected = [*names[::-1], "Initial key"]

    link = FaultyLink()
    paging = connect(api_key, transport=link)
    assert [key.name for key in await paging.api_keys.list(per_page=2)] == expected
    assert link.delivered == ["GET"] * 3  # 2 + 2 + 1
    assert [key.name async for key in paging.api_keys.iter(per_page=2)] == expected
    assert [key.name for key in await relay.api_keys.list()] == expected


async def test_the_next_page_is_asked_of_the_clients_own_server(
    connect: Connect, api_key: str
) -> None:
    """A Link naming another host (a RELAY_PUBLIC_URL behind a proxy, or a hostile answer)
    gives the next page's query; the key never goes to that host."""
    key = {
        "id": "0b6c5b1e-8f0a-4c7e-9a53-6a3f0e4d2c11",
        "name": "Only",
        "key_prefix": api_key[:12],
        "scopes": [],
        "created_at": "2030-01-01T00:00:00Z",
        "expires_at": None,
        "last_used_at": None,
    }
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        if "cursor" in request.url.params:
            return httpx.Response(200, json=[])
        link = '<https://elsewhere.example/api/v1/auth/api-keys?per_page=1&cursor=abc>; rel="next"'
        return httpx.Response(200, json=[key], headers={"Link": link})

    relay = connect(
        api_key, base_url="http://relay.internal:8000", transport=httpx.MockTransport(answer)
    )
    assert [each.name for each in await relay.api_keys.list(per_page=1)] == ["Only"]
    assert [str(url) for url in asked] == [
        "http://relay.internal:8000/api/v1/auth/api-keys?per_page=1",
        "http://relay.internal:8000/api/v1/auth/api-keys?per_page=1&cursor=abc",
    ]


async def test_another_tenants_key_is_not_found_whatever_the_call(
    connect: Connect, api_key: str, tenant_b: TenantFixture
) -> None:
    theirs = await connect(api_key).api_keys.create("Tenant A's")
    keys_of_b = connect(tenant_b.key).api_keys
    calls = [
        keys_of_b.get(theirs.id),
        keys_of_b.update(theirs.id, name="Taken"),
        keys_of_b.rotate(theirs.id),
        keys_of_b.usage(theirs.id),
        keys_of_b.revoke(theirs.id),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            await call
    assert (await connect(theirs.key).datasets.list()).total == 0


async def test_a_suspended_key_is_refused_as_disabled_until_resumed(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Batch")
    suspended = await relay.api_keys.update(created.id, disabled=True)
    assert suspended.disabled is True
    with pytest.raises(AuthenticationError) as refused:
        await connect(created.key).datasets.list()
    assert refused.value.disabled
    assert not refused.value.expired
    assert refused.value.code == "api_key_disabled"
    resumed = await relay.api_keys.update(created.id, disabled=False)
    assert resumed.disabled is False
    assert (await connect(created.key).datasets.list()).total == 0


async def test_a_key_limited_to_datasets_and_addresses_and_freed_again(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    chosen = await relay.datasets.create("Chosen")
    await relay.datasets.create("Other")
    created = await relay.api_keys.create(
        "Limited", dataset_ids=[chosen.id], allowed_ips=["127.0.0.1", "2001:db8::/32"]
    )
    assert created.dataset_ids == (chosen.id,)
    assert created.allowed_ips == ("127.0.0.1/32", "2001:db8::/32")
    listed = await connect(created.key).datasets.list()
    assert [dataset.name for dataset in listed.items] == ["Chosen"]
    freed = await relay.api_keys.update(created.id, dataset_ids=None, allowed_ips=None)
    assert (freed.dataset_ids, freed.allowed_ips) == (None, None)
    assert (await connect(created.key).datasets.list()).total == 2


async def test_a_quota_is_set_read_with_what_is_left_and_removed(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Metered", quota=KeyQuota(2, "day"))
    assert created.quota is not None
    assert (created.quota.requests, created.quota.period, created.quota.remaining) == (2, "day", 2)
    metered = connect(created.key)
    await metered.datasets.list()
    assert (await relay.api_keys.get(created.id)).quota.remaining == 1
    await metered.datasets.list()
    with pytest.raises(RateLimitError) as refused:
        await metered.datasets.list()
    assert refused.value.code == "quota_exhausted"
    freed = await relay.api_keys.update(created.id, quota=None)
    assert freed.quota is None


async def test_the_key_policy_is_read_set_and_applied(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    assert await relay.key_policy.get() == KeyPolicy(None, None, "allowed")
    wanted = KeyPolicy(
        max_lifetime_days=30, expire_unused_after_days=90, full_access_keys="owners_only"
    )
    assert await relay.key_policy.set(wanted) == wanted
    assert await relay.key_policy.get() == wanted
    with pytest.raises(PermissionDeniedError) as refused:
        await relay.api_keys.create("Everything")
    assert "key policy" in str(refused.value)
    reader = await relay.api_keys.create("Reader", scopes=["datasets:read", "api_keys:read"])
    assert reader.expires_at is not None  # the policy's maximum, asked or not
    with pytest.raises(PermissionDeniedError):  # only a full-access key sets the policy
        await connect(reader.key).key_policy.set(KeyPolicy(None, None, "allowed"))
    assert await connect(reader.key).key_policy.get() == wanted


async def test_limit_pools_are_managed_and_bind_their_keys(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    pool = await relay.limit_pools.create(
        "Acme mobile app", rate_limit=RateLimit(100, 60), quota=KeyQuota(2, "day")
    )
    assert (pool.name, pool.rate_limit, pool.key_count) == (
        "Acme mobile app",
        RateLimit(100, 60),
        0,
    )
    assert pool.quota is not None
    assert pool.quota.remaining == 2
    member = await relay.api_keys.create("Phone", pool_id=pool.id)
    assert member.pool_id == pool.id
    phone = connect(member.key)
    await phone.datasets.list()
    await phone.datasets.list()
    with pytest.raises(RateLimitError) as refused:
        await phone.datasets.list()
    assert refused.value.code == "quota_exhausted"

    renamed = await relay.limit_pools.update(pool.id, name="Acme iOS", quota=None)
    assert (renamed.name, renamed.quota, renamed.key_count) == ("Acme iOS", None, 1)
    assert (await phone.datasets.list()).total == 0  # the pool's quota is gone
    listed = await relay.limit_pools.list()
    assert ([p.name for p in listed.items], listed.next_cursor) == (["Acme iOS"], None)

    with pytest.raises(ConflictError):  # a key is still in it
        await relay.limit_pools.delete(pool.id)
    moved = await relay.api_keys.update(member.id, pool_id=None)
    assert moved.pool_id is None
    await relay.limit_pools.delete(pool.id)
    with pytest.raises(NotFoundError):
        await relay.limit_pools.get(pool.id)


async def test_get_says_who_used_the_key_and_a_rotation_may_wait_until_quiet(
    connect: Connect, api_key: str, app: FastAPI, tenant_a: TenantFixture
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Worker")
    await record_uses(app, tenant_a, created.id, [200, 200])
    read = await relay.api_keys.get(created.id)
    assert [(c.address, c.user_agent, c.requests) for c in read.clients] == [
        ("127.0.0.1", "relay-sdk-tests", 2)
    ]
    assert all(isinstance(client, KeyClient) for client in read.clients)
    assert read.suggested_scopes is None  # its uses needed no scope here

    rotated = await relay.api_keys.rotate(created.id, grace_period_seconds="until_quiet")
    old = await relay.api_keys.get(created.id)
    assert old.expires_at is not None
    bound = old.expires_at - rotated.created_at  # the quiet grace's bound: 7 days
    assert timedelta(days=6, hours=23) < bound <= timedelta(days=7)
