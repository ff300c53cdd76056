"""A small synchronous client for the Relay API, built on httpx.

from relay.sdk import Relay

with Relay() as relay:                      # RELAY_API_KEY from the environment
    relay.datasets.create(name="Street scenes")
    for key in relay.api_keys.list():
        print(key["name"], key["key_prefix"])

Failures that are safe to retry are retried (`max_retries`, 2 by default), with
exponential backoff and jitter: a connection that could not be made, for any
method; a lost response or a 503, for GET and DELETE only, since a POST or PATCH
may already have been applied. A DELETE retried after a lost response or a 503
that then finds nothing (404) has done its work and returns normally.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
JSON = dict[str, Any]


class RelayAPIError(Exception):
    """The API answered with an error; `status_code` and `detail` say which."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


class RelayConnectionError(Exception):
    """No answer from Relay (after any retries); the cause is chained."""


class AuthenticationError(RelayAPIError):
    """401: the key is missing, invalid, revoked or expired."""


class NotFoundError(RelayAPIError):
    """404: no such resource in your tenant."""


_ERRORS_BY_STATUS: dict[int, type[RelayAPIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
}
# Requests that may be sent twice with the effect of once.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Raised before a single byte of the request left: retrying cannot apply it twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAX_BACKOFF = 8.0


class Relay:
    """A client for one tenant, authenticated by one API key."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`backoff` is the first retry's delay in seconds; each retry doubles it."""
        api_key = api_key or os.environ.get("RELAY_API_KEY")
        if not api_key:
            raise ValueError("RELAY_API_KEY environment variable not set")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.max_retries = max_retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=base_url or os.environ.get("RELAY_BASE_URL", DEFAULT_BASE_URL),
            headers={"X-API-Key": api_key.strip()},
            timeout=timeout,
            transport=transport,
        )
        self.api_keys = ApiKeys(self)
        self.datasets = Datasets(self)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request under /api/v1; returns the decoded JSON (None for 204)."""
        method = method.upper()
        idempotent = method in _IDEMPOTENT_METHODS
        maybe_applied = False  # an earlier attempt may have done the work unseen
        for attempt in range(self.max_retries + 1):
            retries_left = attempt < self.max_retries
            try:
                response = self._http.request(method, f"/api/v1{path}", **kwargs)
            except httpx.TransportError as error:
                if retries_left and (idempotent or isinstance(error, _NOT_SENT)):
                    maybe_applied = maybe_applied or not isinstance(error, _NOT_SENT)
                    self._wait_before_retry(attempt, None)
                    continue
                raise RelayConnectionError(
                    f"{method} {path}: no answer from {self._http.base_url} ({error!r})"
                ) from error
            if response.status_code == 503 and idempotent and retries_left:
                maybe_applied = True
                self._wait_before_retry(attempt, response.headers.get("Retry-After"))
                continue
            break
        if method == "DELETE" and response.status_code == 404 and maybe_applied:
            return None  # an earlier attempt deleted it
        return self._decode(response)

    def _wait_before_retry(self, attempt: int, retry_after: str | None) -> None:
        delay = min(_MAX_BACKOFF, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
        if retry_after is not None and retry_after.isdigit():
            delay = min(_MAX_BACKOFF, float(retry_after))
        time.sleep(delay)

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            error_class = _ERRORS_BY_STATUS.get(response.status_code, RelayAPIError)
            raise error_class(response.status_code, detail)
        return None if response.status_code == 204 else response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ApiKeys:
    """Create, list and revoke the tenant's API keys."""

    def __init__(self, client: Relay) -> None:
        self._client = client

    def create(self, name: str, *, expires_at: datetime | str | None = None) -> JSON:
        """A new key; the response's "key" is the only copy of it, store it now."""
        body: JSON = {"name": name}
        if expires_at is not None:
            body["expires_at"] = (
                expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at
            )
        result: JSON = self._client.request("POST", "/auth/api-keys", json=body)
        return result

    def list(self) -> list[JSON]:
        result: list[JSON] = self._client.request("GET", "/auth/api-keys")
        return result

    def revoke(self, key_id: str) -> None:
        self._client.request("DELETE", f"/auth/api-keys/{key_id}")


class Datasets:
    """The tenant's datasets."""

    def __init__(self, client: Relay) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        artifact_types: list[JSON] | None = None,
    ) -> JSON:
        body: JSON = {"name": name, "description": description}
        if artifact_types is not None:
            body["artifact_types"] = artifact_types
        result: JSON = self._client.request("POST", "/datasets", json=body)
        return result

    def list(self, *, page: int = 1, page_size: int = 20) -> JSON:
        """One page: {"items": [...], "total": N, "page": P, "page_size": S}."""
        params = {"page": page, "page_size": page_size}
        result: JSON = self._client.request("GET", "/datasets", params=params)
        return result

    def get(self, dataset_id: str) -> JSON:
        result: JSON = self._client.request("GET", f"/datasets/{dataset_id}")
        return result

    def update(self, dataset_id: str, **changes: Any) -> JSON:
        result: JSON = self._client.request("PATCH", f"/datasets/{dataset_id}", json=changes)
        return result

    def delete(self, dataset_id: str) -> None:
        self._client.request("DELETE", f"/datasets/{dataset_id}")
