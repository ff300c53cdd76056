"""Sending operations: one transport per flavour (sync, async), and the retry rules both obey.

What may be sent twice is sent twice only when that cannot apply it twice:
- a connection that could not be made (nothing left the machine): retried for any call;
- a lost answer or a 503: retried for reads and deletes only, since a create or an
  update may already have been applied;
- a 429 with Retry-After: retried for reads and deletes, after the time it names,
  when that is no longer than `max_retry_wait` (sooner, the server would refuse again:
  a longer one is raised at once as RateLimitError); never one whose code is
  `too_many_auth_failures`, which only a key the server refuses gets (a retry would
  be refused too, and count as one more failure).
Waits double from `backoff` with jitter, and no wait exceeds `max_retry_wait` (a
503's Retry-After included). A delete retried after a lost answer or a 503 that then finds
nothing (404) has done its work and succeeds. Every attempt of one call carries the
same X-Request-ID, so the server's log shows them together.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from relay_sdk.errors import (
    RelayConnectionError,
    answer_code,
    error_from_response,
    parse_retry_after,
)
from relay_sdk.operations import Operation, Paginated
from relay_sdk.rate_limits import RateLimitStatus

ResultT = TypeVar("ResultT")
ItemT = TypeVar("ItemT")

API_PREFIX = "/api/v1"
# Requests that may be sent twice with the effect of once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Raised before a single byte of the request left: retrying cannot apply it twice.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A 429 that waiting does not cure: the address's failed authentications.
AUTH_FAILURES_CODE = "too_many_auth_failures"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    backoff: float = 0.5
    max_retry_wait: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` + 1 (the server's word first)."""
        if retry_after is not None:
            return min(self.max_retry_wait, retry_after)
        exponential = min(self.max_retry_wait, self.backoff * 2.0**attempt)
        return exponential * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


class Attempts(Generic[ResultT]):
    """The retry rules applied to one call; both transports drive it the same way."""

    def __init__(self, policy: RetryPolicy, operation: Operation[ResultT]) -> None:
        self.policy = policy
        self.operation = operation
        self.request_id = uuid.uuid4().hex
        self.idempotent = operation.method in IDEMPOTENT_METHODS
        self.attempt = 0
        # An earlier attempt may have done the work without our seeing the answer.
        self.maybe_applied = False

    def build_request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.operation.method,
            API_PREFIX + self.operation.path,
            params=self.operation.params,
            json=self.operation.json,
            headers={"X-Request-ID": self.request_id},
        )

    def wait_after_error(self, error: httpx.TransportError, base_url: httpx.URL) -> float:
        """The wait before sending again, or RelayConnectionError when it must not be."""
        not_sent = isinstance(error, NOT_SENT_ERRORS)
        if self.attempt < self.policy.max_retries and (self.idempotent or not_sent):
            self.maybe_applied = self.maybe_applied or not not_sent
            return self._next_wait(None)
        operation = self.operation
        raise RelayConnectionError(
            f"{operation.method} {operation.path}: no answer from {base_url} ({error!r})",
            detail=repr(error),
            request_id=self.request_id,
        ) from error

    def wait_after_response(self, response: httpx.Response) -> float | None:
        """The wait before sending again, or None when this answer is the final one."""
        if not (self.idempotent and self.attempt < self.policy.max_retries):
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 503:
            self.maybe_applied = True
            return self._next_wait(retry_after)
        if (
            response.status_code == 429
            and retry_after is not None
            and retry_after <= self.policy.max_retry_wait
            and answer_code(response) != AUTH_FAILURES_CODE
        ):
            return self._next_wait(retry_after)
        return None

    def result(self, response: httpx.Response) -> ResultT:
        """The operation's result, or the exception the answer calls for."""
        if self.operation.method == "DELETE" and response.status_code == 404 and self.maybe_applied:
            return self.operation.parse(response)  # an earlier attempt deleted it: done
        if response.is_error:
            raise error_from_response(response, request_id=self.request_id)
        return self.operation.parse(response)

    def _next_wait(self, retry_after: float | None) -> float:
        wait = self.policy.wait(self.attempt, retry_after)
        self.attempt += 1
        return wait


def client_headers(api_key: str, user_agent: str) -> dict[str, str]:
    return {"X-API-Key": api_key, "User-Agent": user_agent, "Accept": "application/json"}


class SyncTransport:
    """Sends operations with httpx.Client, retrying as the module docstring says."""

    def __init__(self, http: httpx.Client, policy: RetryPolicy) -> None:
        self.http = http
        self.policy = policy
        # The RateLimit-* headers of the last answer received (None: it had none).
        self.last_rate_limit: RateLimitStatus | None = None

    def send(self, operation: Operation[ResultT]) -> ResultT:
        attempts = Attempts(self.policy, operation)
        request = attempts.build_request(self.http)
        while True:
            try:
                response = self.http.send(request)
            except httpx.TransportError as error:
                time.sleep(attempts.wait_after_error(error, self.http.base_url))
                continue
            self.last_rate_limit = RateLimitStatus.from_headers(response.headers)
            wait = attempts.wait_after_response(response)
            if wait is None:
                return attempts.result(response)
            time.sleep(wait)

    def iterate(self, first: Operation[Paginated[ItemT]]) -> Iterator[ItemT]:
        """Every item of every page, fetching each page when the previous one is used up."""
        operation: Operation[Paginated[ItemT]] | None = first
        while operation is not None:
            page = self.send(operation)
            yield from page.items
            operation = page.next_page

    def close(self) -> None:
        self.http.close()


class AsyncTransport:
    """Sends operations with httpx.AsyncClient, retrying as the module docstring says."""

    def __init__(self, http: httpx.AsyncClient, policy: RetryPolicy) -> None:
        self.http = http
        self.policy = policy
        # The RateLimit-* headers of the last answer received (None: it had none).
        self.last_rate_limit: RateLimitStatus | None = None

    async def send(self, operation: Operation[ResultT]) -> ResultT:
        attempts = Attempts(self.policy, operation)
        request = attempts.build_request(self.http)
        while True:
            try:
                response = await self.http.send(request)
            except httpx.TransportError as error:
                await asyncio.sleep(attempts.wait_after_error(error, self.http.base_url))
                continue
            self.last_rate_limit = RateLimitStatus.from_headers(response.headers)
            wait = attempts.wait_after_response(response)
            if wait is None:
                return attempts.result(response)
            await asyncio.sleep(wait)

    async def iterate(self, first: Operation[Paginated[ItemT]]) -> AsyncIterator[ItemT]:
        """Every item of every page, fetching each page when the previous one is used up."""
        operation: Operation[Paginated[ItemT]] | None = first
        while operation is not None:
            page = await self.send(operation)
            for item in page.items:
                yield item
            operation = page.next_page

    async def close(self) -> None:
        await self.http.aclose()
