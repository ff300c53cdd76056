"""API keys (/api/v1/auth/api-keys): create, list, read, update, rotate and revoke the
tenant's keys, and read a key's usage."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import httpx

from relay_sdk.models import NOT_FROM_API, format_aware_timestamp, from_json, parse_model, to_json
from relay_sdk.operations import (
    NOT_GIVEN,
    JSONObject,
    NotGiven,
    Operation,
    QueryParams,
    given_fields,
    no_content,
    path_segment,
)
from relay_sdk.rate_limits import RateLimit
from relay_sdk.resource import (
    AsyncResource,
    SyncResource,
    async_all,
    async_call,
    async_pages,
    sync_all,
    sync_call,
    sync_pages,
)

MAX_PER_PAGE = 100
PATH = "/auth/api-keys"


@dataclass(frozen=True, slots=True)
class KeyQuota:
    """At most `requests` requests accepted per UTC "day", per UTC "month", or ever
    ("none"), counted over the key's family and the keys that made it."""

    requests: int
    period: str


@dataclass(frozen=True, slots=True)
class KeyQuotaStatus(KeyQuota):
    """A key's quota as reads show it: what is left, and when it refills (None: never)."""

    remaining: int
    resets_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as lists show it: never the key itself, only its first 12 characters.

    `scopes` () means full access to the tenant; `rate_limit` None means no limit of its own;
    `dataset_ids` None means every dataset of the tenant, `allowed_ips` None anywhere;
    `pool_id` names the limit pool it counts in as well; `disabled` is True while the
    key is suspended.
    """

    id: str
    name: str
    key_prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    rate_limit: RateLimit | None = None
    dataset_ids: tuple[str, ...] | None = None
    allowed_ips: tuple[str, ...] | None = None
    quota: KeyQuotaStatus | None = None
    pool_id: str | None = None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class KeyClient:
    """Who used a key in the last 24 hours: an address and user agent (None when it
    sent none), how many requests and the last."""

    address: str
    user_agent: str | None
    requests: int
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ScopeUse:
    """A scope the key's requests needed in the last 30 days ("full access" for the
    routes that need it), and when last."""

    scope: str
    last_used_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyDetail(ApiKey):
    """One key as its own read shows it: `clients`, who used it in the last 24 hours
    (at most 20, most requests first); `scopes_used` in the last 30 days; and
    `suggested_scopes`, the fewest that would have done when that is less than it
    holds (None otherwise)."""

    clients: tuple[KeyClient, ...] = field(kw_only=True)
    scopes_used: tuple[ScopeUse, ...] = field(kw_only=True)
    suggested_scopes: tuple[str, ...] | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class CreatedApiKey(ApiKey):
    """A key just created or rotated: `key` is the only copy there will ever be (kept
    out of repr)."""

    key: str = field(repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ApiKeyPage:
    """One page of the key list, newest first; `next_page` follows its Link header."""

    items: tuple[ApiKey, ...]
    next_page: Operation[ApiKeyPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


@dataclass(frozen=True, slots=True)
class UsageDay:
    """Requests made with a key on one UTC day: in all, and per status class ("2xx",
    "3xx", "4xx", "5xx")."""

    date: date
    total: int
    by_status: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ApiKeyUsage:
    """A key's requests per day, oldest day first, one entry per day (days without a
    request included)."""

    key_id: str
    days: tuple[UsageDay, ...]


def _key_path(key_id: str) -> str:
    return f"{PATH}/{path_segment(key_id)}"


def create_api_key(
    name: str,
    *,
    expires_at: datetime | None = None,
    scopes: Sequence[str] = (),
    rate_limit: RateLimit | None = None,
    dataset_ids: Sequence[str] | None = None,
    allowed_ips: Sequence[str] | None = None,
    quota: KeyQuota | None = None,
    pool_id: str | None = None,
) -> Operation[CreatedApiKey]:
    """Create a key; the result's `key` is shown only this once, so store it now.

    `expires_at` must be timezone-aware. `scopes` limit the key (datasets:read,
    datasets:write, api_keys:read, api_keys:write, audit:read, webhooks:read,
    webhooks:write; none: full access), and
    a key never gets a scope the key creating it lacks (PermissionDeniedError).
    `dataset_ids` limit it to those datasets, `allowed_ips` to those addresses or
    networks ("203.0.113.0/24"), `quota` to so many requests a day, a month or ever,
    `pool_id` to a limit pool's shared limits as well; a key made by a key so limited
    is limited as much.
    """
    body: JSONObject = {"name": name, "scopes": list(scopes)}
    if expires_at is not None:
        body["expires_at"] = format_aware_timestamp(expires_at, "expires_at")
    if rate_limit is not None:
        body["rate_limit"] = to_json(rate_limit)
    if dataset_ids is not None:
        body["dataset_ids"] = list(dataset_ids)
    if allowed_ips is not None:
        body["allowed_ips"] = list(allowed_ips)
    if quota is not None:
        body["quota"] = to_json(quota)
    if pool_id is not None:
        body["pool_id"] = pool_id
    return Operation("POST", PATH, parse_model(CreatedApiKey), json=body)


def _parse_page(response: httpx.Response) -> ApiKeyPage:
    items = tuple(from_json(ApiKey, item) for item in response.json())
    next_url = response.links.get("next", {}).get("url")
    if next_url is None:
        return ApiKeyPage(items)
    # Only the link's query (cursor, per_page) is taken, and asked of the client's own
    # base URL: the key is never sent to a host an answer names, and a RELAY_PUBLIC_URL
    # other than the address this client uses (a proxy, a container network) works.
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(next_url).query))
    return ApiKeyPage(items, next_page=_list_page(query))


def _list_page(params: QueryParams) -> Operation[ApiKeyPage]:
    return Operation("GET", PATH, _parse_page, params=params)


def list_api_keys(*, per_page: int = MAX_PER_PAGE) -> Operation[ApiKeyPage]:
    """The tenant's keys that are not revoked (expired ones included), newest first,
    fetched `per_page` at a time (100 at most), each page's Link header naming the next.

    `list()` returns them all; `iter()` yields them, fetching a page when the one
    before is used up. A key created while this runs is not among them; a key revoked
    meanwhile may still be.
    """
    return _list_page({"per_page": per_page})


def _listed(values: Sequence[str] | NotGiven | None) -> list[str] | NotGiven | None:
    return values if values is None or isinstance(values, NotGiven) else list(values)


def get_api_key(key_id: str) -> Operation[ApiKeyDetail]:
    """Read one key (never the key itself), with who used it in the last 24 hours and
    the scopes it needed; NotFoundError once it is revoked."""
    return Operation("GET", _key_path(key_id), parse_model(ApiKeyDetail))


def update_api_key(
    key_id: str,
    *,
    name: str | NotGiven = NOT_GIVEN,
    rate_limit: RateLimit | NotGiven | None = NOT_GIVEN,
    disabled: bool | NotGiven = NOT_GIVEN,
    dataset_ids: Sequence[str] | NotGiven | None = NOT_GIVEN,
    allowed_ips: Sequence[str] | NotGiven | None = NOT_GIVEN,
    quota: KeyQuota | NotGiven | None = NOT_GIVEN,
    pool_id: str | NotGiven | None = NOT_GIVEN,
) -> Operation[ApiKey]:
    """Rename a key, set its rate limit (`rate_limit=None` removes it), limit it to
    datasets or addresses (None: every dataset, anywhere), move it to a limit pool
    (`pool_id=None`: out of any), or suspend it
    (`disabled=True`: refused with AuthenticationError, `.disabled`, from its next
    request) and resume it (`disabled=False`); a field not given stays as it is."""
    body = given_fields(
        name=name,
        rate_limit=to_json(rate_limit),
        disabled=disabled,
        dataset_ids=_listed(dataset_ids),
        allowed_ips=_listed(allowed_ips),
        quota=to_json(quota),
        pool_id=pool_id,
    )
    return Operation("PATCH", _key_path(key_id), parse_model(ApiKey), json=body)


def rotate_api_key(
    key_id: str, *, grace_period_seconds: int | Literal["until_quiet"] | NotGiven = NOT_GIVEN
) -> Operation[CreatedApiKey]:
    """Replace a key with a new one (same name, scopes, rate limit and expiry), whose
    `key` is shown only this once. The old key keeps working for the grace period
    (0 to 604800 s; the server's default is 3600; "until_quiet": until it has gone
    15 minutes unused, at most 7 days), never past its own expiry, then answers 401
    "API key expired". ConflictError when the key is revoked, expired or already
    rotated.
    """
    body = given_fields(grace_period_seconds=grace_period_seconds)
    return Operation("POST", f"{_key_path(key_id)}/rotate", parse_model(CreatedApiKey), json=body)


def revoke_api_key(key_id: str) -> Operation[None]:
    """Revoke a key for good: it is refused from the very next request."""
    return Operation("DELETE", _key_path(key_id), no_content)


def api_key_usage(key_id: str, *, days: int = 30) -> Operation[ApiKeyUsage]:
    """The key's requests per UTC day for the last `days` days (1 to 90), today included
    (written about once a second, so the last second's may not show yet)."""
    return Operation(
        "GET", f"{_key_path(key_id)}/usage", parse_model(ApiKeyUsage), params={"days": days}
    )


class ApiKeys(SyncResource):
    """The tenant's API keys; `list()` returns every one, `iter()` yields them."""

    create = sync_call(create_api_key)
    list = sync_all(list_api_keys)
    iter = sync_pages(list_api_keys)
    get = sync_call(get_api_key)
    update = sync_call(update_api_key)
    rotate = sync_call(rotate_api_key)
    revoke = sync_call(revoke_api_key)
    usage = sync_call(api_key_usage)


class AsyncApiKeys(AsyncResource):
    """The tenant's API keys; `await list()` returns every one, `async for` over `iter()`."""

    create = async_call(create_api_key)
    list = async_all(list_api_keys)
    iter = async_pages(list_api_keys)
    get = async_call(get_api_key)
    update = async_call(update_api_key)
    rotate = async_call(rotate_api_key)
    revoke = async_call(revoke_api_key)
    usage = async_call(api_key_usage)
