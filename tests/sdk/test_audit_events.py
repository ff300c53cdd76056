"""The audit log through the SDK against a real server, with both clients: a page with its
filters, every page, and the audit:read scope.

The server also records, about a second after a key's first use from an address, an
event of its own ("api_key.new_client_address"), so the tests filter by action
wherever they count events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay_sdk import AuditEvent, AuditEventPage, PermissionDeniedError
from tests.factories import TenantFixture
from tests.sdk.conftest import Connect

pytestmark = pytest.mark.backend_independent

CREATED = "dataset.created"


async def test_list_gives_a_page_of_events_newest_first_with_filters(
    connect: Connect, api_key: str, tenant_a: TenantFixture
) -> None:
    relay = connect(api_key)
    tenant_a_key_id = str(tenant_a.key_id)
    before = datetime.now(UTC) - timedelta(minutes=1)
    for name in ("One", "Two", "Three"):
        await relay.datasets.create(name)
    ci = await relay.api_keys.create("CI")

    page = await relay.audit_events.list(page_size=2, action=CREATED)
    assert isinstance(page, AuditEventPage)
    assert (page.page, page.page_size, page.has_more) == (1, 2, True)
    assert [event.target_name for event in page.items] == ["Three", "Two"]
    event = page.items[0]
    assert isinstance(event, AuditEvent)
    assert (event.action, event.actor, event.target_type) == (
        CREATED,
        f"api_key:{api_key[:12]}",
        "dataset",
    )
    assert event.at.tzinfo is not None
    assert event.at >= before
    last = await relay.audit_events.list(page=2, page_size=2, action=CREATED)
    assert ([e.target_name for e in last.items], last.has_more) == (["One"], False)

    created = await relay.audit_events.list(action="api_key.created")
    assert [e.target_id for e in created.items] == [ci.id, tenant_a_key_id]
    assert created.items[0].target_name == f"CI ({ci.key_prefix}…)"
    assert created.items[0].details == {"scopes": []}
    later = await relay.audit_events.list(since=datetime.now(UTC) + timedelta(hours=1))
    assert later.items == ()


async def test_iter_reads_every_page_and_no_event_twice_when_new_ones_push_them_down(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    names = [f"Dataset {number}" for number in range(5)]
    for name in names:
        await relay.datasets.create(name)

    events = relay.audit_events.iter(page_size=2, action=CREATED)
    first_page = [await anext(events), await anext(events)]
    # Recorded after the first page was read: by page number every older event would
    # move one place down; the next page is read after the first page's cursor.
    await relay.datasets.create("Newcomer")
    rest = [event async for event in events]
    assert [event.target_name for event in first_page + rest] == names[::-1]


async def test_a_naive_since_is_refused_before_sending(connect: Connect, api_key: str) -> None:
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        await connect(api_key).audit_events.list(since=datetime(2030, 1, 1))


async def test_reading_the_audit_log_needs_the_audit_read_scope(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    reader = connect((await relay.api_keys.create("Reader", scopes=["datasets:read"])).key)
    with pytest.raises(PermissionDeniedError) as refused:
        await reader.audit_events.list()
    assert refused.value.detail == "Insufficient permissions: requires audit:read"
    auditor = connect((await relay.api_keys.create("Auditor", scopes=["audit:read"])).key)
    assert (await auditor.audit_events.list(action="api_key.created")).items
