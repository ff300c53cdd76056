"""Limit pools (/api/v1/limit-pools): a rate limit and a quota shared by several keys.
A key joins one with its `pool_id`; each of its requests then counts against the pool
as well as against its own limits. Reading pools needs api_keys:read; managing them, and
putting a key into one, a full-access key (managing: one without limits of its own)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from relay_sdk.api_keys import KeyQuota, KeyQuotaStatus
from relay_sdk.models import NOT_FROM_API, from_json, parse_model, to_json
from relay_sdk.operations import (
    NOT_GIVEN,
    JSONObject,
    NotGiven,
    Operation,
    given_fields,
    no_content,
    path_segment,
)
from relay_sdk.rate_limits import RateLimit
from relay_sdk.resource import (
    AsyncResource,
    SyncResource,
    async_call,
    async_pages,
    sync_call,
    sync_pages,
)

PATH = "/limit-pools"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class LimitPool:
    """A pool: its shared `rate_limit` and `quota` (None: none; the quota with what is
    left of it this period) and how many keys that are not revoked are in it."""

    id: str
    name: str
    rate_limit: RateLimit | None
    quota: KeyQuotaStatus | None
    key_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LimitPoolPage:
    """One page of pools, newest first; `next_page` fetches the one after, if any."""

    items: tuple[LimitPool, ...]
    next_cursor: str | None
    next_page: Operation[LimitPoolPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


def _pool_path(pool_id: str) -> str:
    return f"{PATH}/{path_segment(pool_id)}"


def create_limit_pool(
    name: str, *, rate_limit: RateLimit | None = None, quota: KeyQuota | None = None
) -> Operation[LimitPool]:
    """Create a pool; put keys in it with `api_keys.create(..., pool_id=pool.id)` or
    `api_keys.update(key_id, pool_id=pool.id)`."""
    body: JSONObject = {"name": name, "rate_limit": to_json(rate_limit), "quota": to_json(quota)}
    return Operation("POST", PATH, parse_model(LimitPool), json=body)


def _parse_page(page_size: int) -> Callable[[httpx.Response], LimitPoolPage]:
    def parse(response: httpx.Response) -> LimitPoolPage:
        page = from_json(LimitPoolPage, response.json())
        if page.next_cursor is None:
            return page
        following = list_limit_pools(cursor=page.next_cursor, page_size=page_size)
        return dataclasses.replace(page, next_page=following)

    return parse


def list_limit_pools(
    *, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
) -> Operation[LimitPoolPage]:
    """One page of the tenant's pools, newest first (page_size at most 100), the first
    or the one after a previous page's `next_cursor`."""
    params: dict[str, str | int] = {"page_size": page_size}
    if cursor is not None:
        params["cursor"] = cursor
    return Operation("GET", PATH, _parse_page(page_size), params=params)


def every_limit_pool(*, page_size: int = MAX_PAGE_SIZE) -> Operation[LimitPoolPage]:
    """Every pool, newest first, a page at a time."""
    return list_limit_pools(page_size=page_size)


def get_limit_pool(pool_id: str) -> Operation[LimitPool]:
    """Read one pool, with its quota's remainder and its number of keys."""
    return Operation("GET", _pool_path(pool_id), parse_model(LimitPool))


def update_limit_pool(
    pool_id: str,
    *,
    name: str | NotGiven = NOT_GIVEN,
    rate_limit: RateLimit | NotGiven | None = NOT_GIVEN,
    quota: KeyQuota | NotGiven | None = NOT_GIVEN,
) -> Operation[LimitPool]:
    """Rename a pool or change its limits (None removes one; what is not given stays):
    its keys are held to them from their next request."""
    body = given_fields(name=name, rate_limit=to_json(rate_limit), quota=to_json(quota))
    return Operation("PATCH", _pool_path(pool_id), parse_model(LimitPool), json=body)


def delete_limit_pool(pool_id: str) -> Operation[None]:
    """Delete a pool no key is in (ConflictError while one that is not revoked is)."""
    return Operation("DELETE", _pool_path(pool_id), no_content)


class LimitPools(SyncResource):
    """The tenant's limit pools; `iter()` goes through every page."""

    create = sync_call(create_limit_pool)
    list = sync_call(list_limit_pools)
    iter = sync_pages(every_limit_pool)
    get = sync_call(get_limit_pool)
    update = sync_call(update_limit_pool)
    delete = sync_call(delete_limit_pool)


class AsyncLimitPools(AsyncResource):
    """The tenant's limit pools; `iter()` goes through every page (`async for`)."""

    create = async_call(create_limit_pool)
    list = async_call(list_limit_pools)
    iter = async_pages(every_limit_pool)
    get = async_call(get_limit_pool)
    update = async_call(update_limit_pool)
    delete = async_call(delete_limit_pool)
