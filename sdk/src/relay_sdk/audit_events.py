"""The audit log (/api/v1/audit-events): the tenant's events, newest first, page by page
or every one; a key needs the audit:read scope (or full access) to read them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from relay_sdk.models import NOT_FROM_API, format_aware_timestamp, from_json
from relay_sdk.operations import Operation
from relay_sdk.resource import (
    AsyncResource,
    SyncResource,
    async_call,
    async_pages,
    sync_call,
    sync_pages,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Something that happened in the tenant: `action` (e.g. "api_key.rotated"), who did it
    (`actor`: "user:<email>", "api_key:<key prefix>" or "system"), from where, and to what."""

    id: str
    at: datetime
    action: str
    actor: str
    client_address: str | None
    user_agent: str | None
    target_type: str | None
    target_id: str | None
    target_name: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditEventPage:
    """One page of events, newest first; `next_page` fetches the older one, if any, by
    its `next_cursor` (so no event is skipped or repeated while new ones are recorded).
    `page` is None for a page asked for by cursor."""

    items: tuple[AuditEvent, ...]
    page: int | None
    page_size: int
    has_more: bool
    next_cursor: str | None
    next_page: Operation[AuditEventPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


@dataclass(frozen=True)
class _Filters:
    page_size: int
    action: str | None
    since: datetime | None

    def params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"page_size": self.page_size}
        if self.action is not None:
            params["action"] = self.action
        if self.since is not None:
            params["since"] = format_aware_timestamp(self.since, "since")
        return params


def _page(filters: _Filters, where: dict[str, str | int]) -> Operation[AuditEventPage]:
    return Operation("GET", "/audit-events", _page_parser(filters), params=filters.params() | where)


def _page_parser(filters: _Filters) -> Callable[[httpx.Response], AuditEventPage]:
    """The next page is the one after this page's cursor, with the same filters."""

    def parse(response: httpx.Response) -> AuditEventPage:
        page = from_json(AuditEventPage, response.json())
        if page.next_cursor is None:
            return page
        following = _page(filters, {"cursor": page.next_cursor})
        return dataclasses.replace(page, next_page=following)

    return parse


def list_audit_events(
    *,
    page: int | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    action: str | None = None,
    since: datetime | None = None,
) -> Operation[AuditEventPage]:
    """One page of the tenant's audit events, newest first (page_size at most 100): by
    number (`page`, 1 when neither is given) or after a previous page's `next_cursor`;
    only those of `action` (e.g. "api_key.created"), only those at or after `since`
    (timezone-aware)."""
    filters = _Filters(page_size=page_size, action=action, since=since)
    return _page(filters, {"cursor": cursor} if cursor is not None else {"page": page or 1})


def every_audit_event(
    *,
    page_size: int = MAX_PAGE_SIZE,
    action: str | None = None,
    since: datetime | None = None,
) -> Operation[AuditEventPage]:
    """Every audit event, newest first, with the same filters as `list()`, fetched a page
    at a time, each after the last one's cursor: an event recorded while this runs is
    not among them, and none is seen twice."""
    return list_audit_events(page_size=page_size, action=action, since=since)


class AuditEvents(SyncResource):
    """The tenant's audit log; `iter()` goes through every page."""

    list = sync_call(list_audit_events)
    iter = sync_pages(every_audit_event)


class AsyncAuditEvents(AsyncResource):
    """The tenant's audit log; `iter()` goes through every page (`async for`)."""

    list = async_call(list_audit_events)
    iter = async_pages(every_audit_event)
