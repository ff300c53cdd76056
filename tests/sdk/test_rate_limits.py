"""A key's own rate limit as the SDK reports it, against a real server with both clients:
the RateLimit-* headers of the last answer, the 429 that carries them, and no retry
sooner than the server said."""

from __future__ import annotations

import httpx
import pytest

from relay_sdk import KeyQuota, Quota, RateLimit, RateLimitError, RateLimitStatus
from tests.sdk.conftest import Connect, FaultyLink

pytestmark = pytest.mark.backend_independent

ONE_HOUR = 3600


async def test_each_answer_to_a_limited_key_updates_last_rate_limit(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    await relay.datasets.list()
    assert relay.last_rate_limit is None  # a key without a limit of its own

    limited_key = await relay.api_keys.create("Limited", rate_limit=RateLimit(3, ONE_HOUR))
    limited = connect(limited_key.key)
    assert limited.last_rate_limit is None  # nothing asked yet
    remaining = []
    for _ in range(3):
        await limited.datasets.list()
        status = limited.last_rate_limit
        assert isinstance(status, RateLimitStatus)
        assert (status.limit, status.policy) == (3, f'"key";q=3;w={ONE_HOUR}')
        assert status.reset > 0
        (quota,) = status.quotas
        assert (quota.name, quota.limit, quota.window) == ("key", 3, ONE_HOUR)
        assert (quota.remaining, quota.reset) == (status.remaining, status.reset)
        remaining.append(status.remaining)
    assert remaining == [2, 1, 0]


async def test_over_the_limit_the_error_carries_retry_after_and_the_limit(
    connect: Connect, api_key: str
) -> None:
    created = await connect(api_key).api_keys.create("Tight", rate_limit=RateLimit(1, ONE_HOUR))
    link = FaultyLink()
    limited = connect(created.key, transport=link)
    await limited.datasets.list()
    with pytest.raises(RateLimitError) as refused:
        await limited.datasets.list()
    error = refused.value
    assert error.detail.startswith(f"Rate limit exceeded: 1 requests per {ONE_HOUR} seconds")
    assert error.retry_after is not None
    assert error.retry_after > 0
    assert error.rate_limit is not None
    assert (error.rate_limit.limit, error.rate_limit.remaining) == (1, 0)
    assert error.code == "rate_limited"
    assert limited.last_rate_limit == error.rate_limit
    # A read is retried after a 429, but not when told to wait longer than max_retry_wait
    # (8 s): sooner, the server would only refuse it again.
    assert link.delivered == ["GET", "GET"]


CURRENT = {
    "RateLimit-Policy": '"key";q=3;w=7200, "maker-1";q=5;w=3600',
    "RateLimit": '"key";r=2;t=7100, "maker-1";r=1;t=3500',
}
DRAFT_06 = {"RateLimit-Limit": "5", "RateLimit-Remaining": "1", "RateLimit-Reset": "3500"}


def test_the_current_drafts_fields_give_every_window_and_the_tightest() -> None:
    status = RateLimitStatus.from_headers(httpx.Headers(CURRENT))
    assert status == RateLimitStatus(
        limit=5,
        remaining=1,
        reset=3500,
        policy=CURRENT["RateLimit-Policy"],
        quotas=(Quota("key", 2, 7100, 3, 7200), Quota("maker-1", 1, 3500, 5, 3600)),
    )
    # Beside draft 06's fields (as Relay sends both), the same status.
    assert RateLimitStatus.from_headers(httpx.Headers(CURRENT | DRAFT_06)) == status


def test_draft_06_fields_alone_are_read_as_before() -> None:
    """An older server sends only these."""
    status = RateLimitStatus.from_headers(httpx.Headers(DRAFT_06 | {"RateLimit-Policy": "5;w=60"}))
    assert status == RateLimitStatus(5, 1, 3500, "5;w=60", ())


def test_a_quota_that_never_refills_has_no_reset_and_can_be_the_tightest() -> None:
    """A quota of period "none" comes without `t` (and its policy without `w`): read as
    no reset at all, it is still an item, and the tightest when fewest are left."""
    headers = {
        "RateLimit-Policy": '"key";q=600;w=60, "quota";q=1000',
        "RateLimit": '"key";r=599;t=1, "quota";r=3',
        # Draft 06's fields describe only the windows, never a quota.
        "RateLimit-Limit": "600",
        "RateLimit-Remaining": "599",
        "RateLimit-Reset": "1",
    }
    status = RateLimitStatus.from_headers(httpx.Headers(headers))
    assert status == RateLimitStatus(
        limit=1000,
        remaining=3,
        reset=None,
        policy=headers["RateLimit-Policy"],
        quotas=(Quota("key", 599, 1, 600, 60), Quota("quota", 3, None, 1000, None)),
    )
    # Of windows as tight, the quota stays so longest: it never frees a place.
    both_spent = headers | {"RateLimit": '"key";r=0;t=5, "quota";r=0'}
    spent = RateLimitStatus.from_headers(httpx.Headers(both_spent))
    assert spent is not None
    assert (spent.limit, spent.remaining, spent.reset) == (1000, 0, None)
    # A key with only such a quota gets no draft 06 fields: the current ones suffice.
    alone = {"RateLimit-Policy": '"quota";q=1000', "RateLimit": '"quota";r=999'}
    assert RateLimitStatus.from_headers(httpx.Headers(alone)) == RateLimitStatus(
        1000, 999, None, alone["RateLimit-Policy"], (Quota("quota", 999, None, 1000, None),)
    )


@pytest.mark.parametrize(
    "rate_limit",
    [
        '"key";r=2;t=',
        '"key";r=-1;t=5',
        "key;r=2;t=5",
        '"key";r=2;t=5,',
        '"key;r=2',
        # A `t` that is there but no count of seconds is malformed, not "never".
        '"key";r=2;t=-1',
        '"key";r=2;t=1.5',
        '"key";r=2;t',
    ],
)
def test_a_malformed_ratelimit_field_is_ignored(rate_limit: str) -> None:
    """The draft: malformed RateLimit fields MUST be ignored; draft 06's still count."""
    headers = CURRENT | {"RateLimit": rate_limit}
    assert RateLimitStatus.from_headers(httpx.Headers(headers)) is None
    with_06 = RateLimitStatus.from_headers(httpx.Headers(headers | DRAFT_06))
    assert with_06 is not None
    assert (with_06.limit, with_06.remaining, with_06.quotas) == (5, 1, ())


async def test_a_key_made_by_a_limited_key_reports_both_windows(
    connect: Connect, api_key: str
) -> None:
    """A key made by a limited key counts in its maker's window too: the server's
    current-draft fields name both, read as every window and the tightest."""
    maker = await connect(api_key).api_keys.create("Maker", rate_limit=RateLimit(50, ONE_HOUR))
    child = await connect(maker.key).api_keys.create("Child", rate_limit=RateLimit(10, ONE_HOUR))
    relay = connect(child.key)
    await relay.datasets.list()
    status = relay.last_rate_limit
    assert status is not None
    # The maker's window holds its create and the child's list.
    assert [(quota.name, quota.limit, quota.remaining) for quota in status.quotas] == [
        ("key", 10, 9),
        ("maker-1", 50, 48),
    ]
    assert (status.limit, status.remaining) == (10, 9)


async def test_a_quota_that_never_refills_reports_what_is_left(
    connect: Connect, api_key: str
) -> None:
    """The server sends a quota of period "none" without `t`: the SDK still reports it,
    the tightest beside a roomier window, and alone on a key without a window."""
    relay = connect(api_key)
    metered = await relay.api_keys.create(
        "Metered for ever", rate_limit=RateLimit(50, ONE_HOUR), quota=KeyQuota(5, "none")
    )
    limited = connect(metered.key)
    await limited.datasets.list()
    status = limited.last_rate_limit
    assert status is not None
    assert (status.limit, status.remaining, status.reset) == (5, 4, None)
    assert [
        (quota.name, quota.limit, quota.window, quota.remaining) for quota in status.quotas
    ] == [
        ("key", 50, ONE_HOUR, 49),
        ("quota", 5, None, 4),
    ]
    assert status.quotas[1].reset is None

    quota_only = await relay.api_keys.create("Quota only", quota=KeyQuota(3, "none"))
    metered_only = connect(quota_only.key)
    await metered_only.datasets.list()
    await metered_only.datasets.list()
    assert metered_only.last_rate_limit == RateLimitStatus(
        3, 1, None, '"quota";q=3', (Quota("quota", 1, None, 3, None),)
    )
