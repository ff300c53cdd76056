"""The clients: `Relay` (sync) and `AsyncRelay` (async), one tenant and one API key each.

Both read the key from their argument or RELAY_API_KEY, and the server from
RELAY_BASE_URL (default http://127.0.0.1:8000). A key with white space around it
(a newline from a file or a copy, the guide's "works in curl but not in code") is
stripped with a warning; a key that is not a Relay key, or whose checksum fails,
raises ValueError before any request is sent.
"""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import version
from types import TracebackType
from typing import Generic, TypeVar

import httpx

from relay_sdk import keys
from relay_sdk.api_keys import ApiKeys, AsyncApiKeys
from relay_sdk.audit_events import AsyncAuditEvents, AuditEvents
from relay_sdk.datasets import AsyncDatasets, Datasets
from relay_sdk.key_policy import AsyncKeyPolicies, KeyPolicies
from relay_sdk.limit_pools import AsyncLimitPools, LimitPools
from relay_sdk.rate_limits import RateLimitStatus
from relay_sdk.transport import AsyncTransport, RetryPolicy, SyncTransport, client_headers
from relay_sdk.webhook_endpoints import AsyncWebhookEndpoints, WebhookEndpoints

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 10.0
USER_AGENT = f"relay-sdk/{version('relay-sdk')}"
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)


@dataclass(frozen=True)
class ClientOptions:
    """What both clients are made of, resolved from the arguments and the environment."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: float
    retry_policy: RetryPolicy

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        *,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_retry_wait: float,
    ) -> ClientOptions:
        return cls(
            api_key=checked_api_key(api_key or os.environ.get("RELAY_API_KEY")),
            base_url=(base_url or os.environ.get("RELAY_BASE_URL") or DEFAULT_BASE_URL),
            timeout=timeout,
            retry_policy=RetryPolicy(max_retries, backoff, max_retry_wait),
        )

    @property
    def headers(self) -> dict[str, str]:
        return client_headers(self.api_key, USER_AGENT)


def checked_api_key(api_key: str | None) -> str:
    """The key, stripped of white space (with a warning); ValueError if it cannot be a key."""
    if not api_key:
        raise ValueError("RELAY_API_KEY environment variable not set")
    stripped = api_key.strip()
    if stripped != api_key:
        warnings.warn(
            "The Relay API key had white space or a newline around it; it was stripped. "
            "Check how RELAY_API_KEY is set.",
            stacklevel=4,
        )
    if not keys.has_key_shape(stripped):
        raise ValueError(
            f"The API key is not a Relay key: expected {keys.KEY_PREFIX} followed by "
            f"{keys.KEY_LENGTH - len(keys.KEY_PREFIX)} letters and digits."
        )
    if not keys.is_valid_key(stripped):
        raise ValueError(
            "The API key fails its checksum: a character is wrong or missing. "
            "Copy it again from where it was first shown."
        )
    return stripped


class _Client(ABC, Generic[TransportT]):
    """What both clients share: the options, resolved once, and the resources' names."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_retry_wait: float = 8.0,
        transport: TransportT | None = None,
    ) -> None:
        """`backoff`: the first retry's wait in seconds, doubled for each next one, and no
        wait (Retry-After included) longer than `max_retry_wait`.

        `transport`: an httpx transport to send through (for proxies, tests, mocks).
        """
        options = ClientOptions.resolve(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_retry_wait=max_retry_wait,
        )
        self._connect(options, transport)

    @abstractmethod
    def _connect(self, options: ClientOptions, transport: TransportT | None) -> None:
        """Open the flavour's httpx client and transport, and attach the resources."""


class Relay(_Client[httpx.BaseTransport]):
    """A synchronous client: `with Relay() as relay: relay.datasets.list()`."""

    def _connect(self, options: ClientOptions, transport: httpx.BaseTransport | None) -> None:
        http = httpx.Client(
            base_url=options.base_url,
            headers=options.headers,
            timeout=options.timeout,
            transport=transport,
        )
        self._transport = SyncTransport(http, options.retry_policy)
        self.api_keys = ApiKeys(self._transport)
        self.audit_events = AuditEvents(self._transport)
        self.datasets = Datasets(self._transport)
        self.key_policy = KeyPolicies(self._transport)
        self.limit_pools = LimitPools(self._transport)
        self.webhook_endpoints = WebhookEndpoints(self._transport)

    @property
    def base_url(self) -> str:
        return str(self._transport.http.base_url)

    @property
    def last_rate_limit(self) -> RateLimitStatus | None:
        """The RateLimit-* headers of the last answer (None: it had none, the key having
        no limit of its own)."""
        return self._transport.last_rate_limit

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncRelay(_Client[httpx.AsyncBaseTransport]):
    """An asyncio client: `async with AsyncRelay() as relay: await relay.datasets.list()`."""

    def _connect(self, options: ClientOptions, transport: httpx.AsyncBaseTransport | None) -> None:
        http = httpx.AsyncClient(
            base_url=options.base_url,
            headers=options.headers,
            timeout=options.timeout,
            transport=transport,
        )
        self._transport = AsyncTransport(http, options.retry_policy)
        self.api_keys = AsyncApiKeys(self._transport)
        self.audit_events = AsyncAuditEvents(self._transport)
        self.datasets = AsyncDatasets(self._transport)
        self.key_policy = AsyncKeyPolicies(self._transport)
        self.limit_pools = AsyncLimitPools(self._transport)
        self.webhook_endpoints = AsyncWebhookEndpoints(self._transport)

    @property
    def base_url(self) -> str:
        return str(self._transport.http.base_url)

    @property
    def last_rate_limit(self) -> RateLimitStatus | None:
        """The RateLimit-* headers of the last answer received, whichever of the calls
        running at once it answered (None: it had none, the key having no limit)."""
        return self._transport.last_rate_limit

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncRelay:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
