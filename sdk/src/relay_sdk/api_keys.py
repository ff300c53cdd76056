"""API keys (/api/v1/auth/api-keys): create, list and revoke the tenant's keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relay_sdk.models import format_timestamp, parse_model, parse_model_list
from relay_sdk.operations import JSONObject, Operation, no_content, path_segment
from relay_sdk.resource import AsyncResource, SyncResource, async_call, sync_call


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as lists show it: never the key itself, only its first 12 characters."""

    id: str
    name: str
    key_prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedApiKey(ApiKey):
    """A key just created: `key` is the only copy there will ever be (kept out of repr)."""

    key: str = field(repr=False)


def create_api_key(
    name: str, *, expires_at: datetime | None = None, scopes: Sequence[str] = ()
) -> Operation[CreatedApiKey]:
    """Create a key; the result's `key` is shown only this once, so store it now.

    `expires_at` must be timezone-aware. `scopes` are sent as given: until the server
    supports scopes it refuses any (ValidationError).
    """
    body: JSONObject = {"name": name}
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
        body["expires_at"] = format_timestamp(expires_at)
    if scopes:
        body["scopes"] = list(scopes)
    return Operation("POST", "/auth/api-keys", parse_model(CreatedApiKey), json=body)


def list_api_keys() -> Operation[list[ApiKey]]:
    """The tenant's keys that are not revoked, newest first."""
    return Operation("GET", "/auth/api-keys", parse_model_list(ApiKey))


def revoke_api_key(key_id: str) -> Operation[None]:
    """Revoke a key for good: it is refused from the very next request."""
    return Operation("DELETE", f"/auth/api-keys/{path_segment(key_id)}", no_content)


class ApiKeys(SyncResource):
    """The tenant's API keys."""

    create = sync_call(create_api_key)
    list = sync_call(list_api_keys)
    revoke = sync_call(revoke_api_key)


class AsyncApiKeys(AsyncResource):
    """The tenant's API keys."""

    create = async_call(create_api_key)
    list = async_call(list_api_keys)
    revoke = async_call(revoke_api_key)
