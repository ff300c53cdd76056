"""A small synchronous client for the Relay API, built on httpx.

from relay.sdk import Relay

with Relay() as relay:                      # RELAY_API_KEY from the environment
    relay.datasets.create(name="Street scenes")
    for key in relay.api_keys.list():
        print(key["name"], key["key_prefix"])
"""

from __future__ import annotations

import os
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


class AuthenticationError(RelayAPIError):
    """401: the key is missing, invalid, revoked or expired."""


class NotFoundError(RelayAPIError):
    """404: no such resource in your tenant."""


_ERRORS_BY_STATUS: dict[int, type[RelayAPIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
}


class Relay:
    """A client for one tenant, authenticated by one API key."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        api_key = api_key or os.environ.get("RELAY_API_KEY")
        if not api_key:
            raise ValueError("RELAY_API_KEY environment variable not set")
        self._http = httpx.Client(
            base_url=base_url or os.environ.get("RELAY_BASE_URL", DEFAULT_BASE_URL),
            headers={"X-API-Key": api_key.strip()},
            timeout=timeout,
        )
        self.api_keys = ApiKeys(self)
        self.datasets = Datasets(self)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request under /api/v1; returns the decoded JSON (None for 204)."""
        response = self._http.request(method, f"/api/v1{path}", **kwargs)
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
