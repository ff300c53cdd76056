"""A key's own rate limit as the SDK reports it, against a real server with both clients:
the RateLimit-* headers of the last answer, the 429 that carries them, and no retry
sooner than the server said."""

from __future__ import annotations

import pytest

from relay_sdk import RateLimit, RateLimitError, RateLimitStatus
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
        assert (status.limit, status.policy) == (3, f"3;w={ONE_HOUR}")
        assert status.reset > 0
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
    assert limited.last_rate_limit == error.rate_limit
    # A read is retried after a 429, but not when told to wait longer than max_retry_wait
    # (8 s): sooner, the server would only refuse it again.
    assert link.delivered == ["GET", "GET"]
