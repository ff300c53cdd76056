"""The SDK retries what is safe to retry and nothing else, with both clients.

Against the real server behind a faulty link, where the server's behaviour matters
(was the write applied?); with an httpx MockTransport for answers a live server
does not give on demand (429 with Retry-After on a read).
"""

from __future__ import annotations

import httpx
import pytest

from relay_sdk import APIStatusError, NotFoundError, RateLimitError, RelayConnectionError
from relay_sdk.transport import RetryPolicy
from tests.sdk.conftest import Connect, FaultyLink

pytestmark = pytest.mark.backend_independent


async def test_a_read_whose_answer_was_lost_is_sent_again(connect: Connect, api_key: str) -> None:
    link = FaultyLink(lose=1)
    relay = connect(api_key, backoff=0, transport=link)
    assert (await relay.datasets.list()).total == 0
    assert link.delivered == ["GET", "GET"]


async def test_every_attempt_of_a_call_carries_the_same_request_id(
    connect: Connect, api_key: str
) -> None:
    link = FaultyLink(refuse=3)
    relay = connect(api_key, backoff=0, transport=link)
    with pytest.raises(RelayConnectionError, match="no answer from") as failed:
        await relay.datasets.list()
    assert len(link.request_ids) == 3
    assert set(link.request_ids) == {failed.value.request_id}


async def test_a_create_whose_answer_was_lost_is_not_sent_again(
    connect: Connect, api_key: str
) -> None:
    link = FaultyLink(lose=1)
    with pytest.raises(RelayConnectionError):
        await connect(api_key, backoff=0, transport=link).datasets.create("Street scenes")
    assert link.delivered == ["POST"]
    page = await connect(api_key).datasets.list()
    assert [dataset.name for dataset in page.items] == ["Street scenes"]


async def test_a_create_that_could_not_connect_is_retried(connect: Connect, api_key: str) -> None:
    link = FaultyLink(refuse=2)
    relay = connect(api_key, backoff=0, transport=link)
    await relay.datasets.create("Street scenes")
    assert (await relay.datasets.list()).total == 1
    assert link.delivered == ["POST", "GET"]


async def test_a_delete_whose_answer_was_lost_still_succeeds(
    connect: Connect, api_key: str
) -> None:
    dataset = await connect(api_key).datasets.create("Street scenes")
    link = FaultyLink(lose=1)
    relay = connect(api_key, backoff=0, transport=link)
    await relay.datasets.delete(dataset.id)  # the retry finds it gone: done
    assert link.delivered == ["DELETE", "DELETE"]
    with pytest.raises(NotFoundError):
        await relay.datasets.get(dataset.id)
    # A delete that was never ambiguous still reports what it found.
    with pytest.raises(NotFoundError):
        await relay.datasets.delete(dataset.id)


async def test_a_read_is_retried_through_a_brief_outage_and_then_reported(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key, backoff=0, transport=FaultyLink(unavailable=2))
    assert (await relay.datasets.list()).total == 0
    relay = connect(api_key, backoff=0, transport=FaultyLink(unavailable=3))
    with pytest.raises(APIStatusError) as unavailable:
        await relay.datasets.list()
    assert unavailable.value.status_code == 503
    assert unavailable.value.detail == "Service temporarily unavailable"


async def test_a_write_is_not_retried_on_503(connect: Connect, api_key: str) -> None:
    link = FaultyLink(unavailable=1)
    with pytest.raises(APIStatusError) as refused:
        await connect(api_key, backoff=0, transport=link).datasets.create("Street scenes")
    assert refused.value.status_code == 503
    assert link.delivered == []


class RateLimited:
    """A MockTransport handler: 429 (with `retry_after`, if given, and `code`) `times`
    times, then 200."""

    def __init__(self, times: int, retry_after: str | None, code: str = "rate_limited") -> None:
        self.times, self.retry_after, self.code = times, retry_after, code
        self.methods: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.methods.append(request.method)
        if len(self.methods) <= self.times:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            body = {"detail": "Slow down", "code": self.code}
            return httpx.Response(429, json=body, headers=headers)
        return httpx.Response(200, json=[])


async def test_a_read_answered_429_with_retry_after_is_sent_again(
    connect: Connect, api_key: str
) -> None:
    server = RateLimited(times=2, retry_after="0")
    relay = connect(api_key, transport=httpx.MockTransport(server))
    assert await relay.api_keys.list() == []
    assert server.methods == ["GET", "GET", "GET"]


async def test_429_after_every_retry_is_a_rate_limit_error_with_retry_after(
    connect: Connect, api_key: str
) -> None:
    server = RateLimited(times=3, retry_after="0")
    relay = connect(api_key, transport=httpx.MockTransport(server))
    with pytest.raises(RateLimitError) as limited:
        await relay.api_keys.list()
    assert (limited.value.status_code, limited.value.retry_after) == (429, 0.0)
    assert len(server.methods) == 3


@pytest.mark.parametrize(("method", "retry_after"), [("POST", "0"), ("GET", None)])
async def test_429_is_not_retried_for_a_write_or_without_retry_after(
    connect: Connect, api_key: str, method: str, retry_after: str | None
) -> None:
    server = RateLimited(times=1, retry_after=retry_after)
    relay = connect(api_key, transport=httpx.MockTransport(server))
    call = relay.api_keys.create("CI") if method == "POST" else relay.api_keys.list()
    with pytest.raises(RateLimitError):
        await call
    assert server.methods == [method]


async def test_429_for_failed_authentications_is_not_retried(
    connect: Connect, api_key: str
) -> None:
    """Decided by the code: waiting does not cure a key the server refuses, and each
    retry would count as one more failure from the address."""
    server = RateLimited(times=1, retry_after="0", code="too_many_auth_failures")
    relay = connect(api_key, transport=httpx.MockTransport(server))
    with pytest.raises(RateLimitError) as limited:
        await relay.api_keys.list()
    assert limited.value.code == "too_many_auth_failures"
    assert server.methods == ["GET"]


def test_the_wait_follows_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=2, backoff=0.5, max_retry_wait=8.0)
    assert policy.wait(attempt=0, retry_after=3.0) == 3.0
    assert policy.wait(attempt=0, retry_after=3600.0) == 8.0
    assert 1.0 <= policy.wait(attempt=2, retry_after=None) <= 2.0  # 0.5 * 2**2, with jitter
    assert policy.wait(attempt=10, retry_after=None) <= 8.0
