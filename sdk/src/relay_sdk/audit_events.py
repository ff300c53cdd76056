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
    """One page of events, newest first; `next_page` fetches the older one, if any."""

    items: tuple[AuditEvent, ...]
    page: int
    page_size: int
    has_more: bool
    next_page: Operation[AuditEventPage] | None = field(
        default=None, repr=False, compare=False, metadata=NOT_FROM_API
    )


@dataclass(frozen=True)
class _Filters:
    page_size: int
    action: str | None
    since: datetime | None

    def params(self, page: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {"page": page, "page_size": self.page_size}
        if self.action is not None:
            params["action"] = self.action
        if self.since is not None:
            params["since"] = format_aware_timestamp(self.since, "since")
        return params


def _page(filters: _Filters, page: int, already_seen: frozenset[str]) -> Operation[AuditEventPage]:
    return Operation(
        "GET", "/audit-events", _page_parser(filters, already_seen), params=filters.params(page)
    )


def _page_parser(
    filters: _Filters, already_seen: frozenset[str]
) -> Callable[[httpx.Response], AuditEventPage]:
    """Pages are numbered from the newest event, so events recorded while pages are read
    push older ones onto the next page: those the page before held are left out."""

    def parse(response: httpx.Response) -> AuditEventPage:
        page = from_json(AuditEventPage, response.json())
        if not page.has_more:
            next_page = None
        else:
            seen = frozenset(event.id for event in page.items)
            next_page = _page(filters, page.page + 1, seen)
        fresh = tuple(event for event in page.items if event.id not in already_seen)
        return dataclasses.replace(page, items=fresh, next_page=next_page)

    return parse


def list_audit_events(
    *,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    action: str | None = None,
    since: datetime | None = None,
) -> Operation[AuditEventPage]:
    """One page of the tenant's audit events, newest first (page_size at most 100):
    only those of `action` (e.g. "api_key.created"), only those at or after `since`
    (timezone-aware)."""
    filters = _Filters(page_size=page_size, action=action, since=since)
    return _page(filters, page, frozenset())


def every_audit_event(
    *,
    page_size: int = MAX_PAGE_SIZE,
    action: str | None = None,
    since: datetime | None = None,
) -> Operation[AuditEventPage]:
    """Every audit event, newest first, with the same filters as `list()`, fetched a page
    at a time. An event recorded while this runs is not among them, and none is seen
    twice (unless more than a page of them are recorded between two pages).
    """
    return list_audit_events(page=1, page_size=page_size, action=action, since=since)


class AuditEvents(SyncResource):
    """The tenant's audit log; `iter()` goes through every page."""

    list = sync_call(list_audit_events)
    iter = sync_pages(every_audit_event)


class AsyncAuditEvents(AsyncResource):
    """The tenant's audit log; `iter()` goes through every page (`async for`)."""

    list = async_call(list_audit_events)
    iter = async_pages(every_audit_event)
