"""Changing a webhook endpoint's URL and events on its page (no browser): saved through
the API's service and audited as its PATCH is; a URL not to send to, or no event, is
refused at its field with what was typed kept, and nothing changes; a viewer is refused
(403) and nothing changes."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from relay.audit.models import AuditEvent
from relay.db import Database
from relay.tenants import roles
from relay.webhooks.addresses import UrlPolicy
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_members_and_datasets import joined_member
from tests.webhooks.receiver import Receiver

PAGE = "/settings/webhooks"
UPDATED = "webhook_endpoint.updated"


async def endpoint_added(client: httpx.AsyncClient, url: str, *events: str) -> str:
    """Add an endpoint on Settings > Webhooks; its page's path."""
    made = await post_form(client, PAGE, PAGE, {"url": url, "events": list(events)})
    assert made.status_code == 201, made.text
    listed = (await client.get(PAGE)).text
    link = re.search(r'href="(/settings/webhooks/[0-9a-f-]{36})">', listed)
    assert link is not None
    return link.group(1)


async def updates_audited(db: Database) -> list[AuditEvent]:
    async with db.sessionmaker() as session:
        query = select(AuditEvent).where(AuditEvent.action == UPDATED)
        return list((await session.scalars(query)).all())


def shown_url(page: str) -> str:
    """The endpoint's URL in its details (not the form's field)."""
    found = re.search(r"<dt>URL</dt><dd><code>([^<]*)</code>", page)
    assert found is not None
    return html.unescape(found.group(1))


async def test_an_endpoints_url_and_events_are_changed_and_audited(
    client: httpx.AsyncClient, db: Database, receiver: Receiver
) -> None:
    await sign_up(client)
    here = await endpoint_added(client, receiver.url(), "api_key.created")
    page = (await client.get(here)).text
    assert "Change the URL and events" in page
    assert f'value="{receiver.url()}"' in page  # the form starts from the endpoint's own

    moved = receiver.url(path="/moved")
    events = ["api_key.revoked", "api_key.leaked"]
    saved = await post_form(client, here, here, {"url": moved, "events": events})
    assert saved.status_code == 303
    assert saved.headers["location"] == here
    page = (await client.get(here)).text
    assert 'role="status" data-announce>Endpoint saved: events go to' in page
    assert shown_url(page) == moved
    assert "<dd>api_key.revoked, api_key.leaked</dd>" in page
    (audited,) = await updates_audited(db)
    assert audited.details == {"url": moved, "events": events, "enabled": True}
    assert audited.actor.startswith("user:")

    # "All events" wins over any ticked beside it, as when adding.
    every = await post_form(client, here, here, {"url": moved, "events": ["*", *events]})
    assert every.status_code == 303
    assert "<dd>All events</dd>" in (await client.get(here)).text


@pytest.mark.parametrize(
    ("url", "events", "field", "said"),
    [
        ("http://127.0.0.1:9/hooks", ["*"], "webhook-url", "non-public address"),
        ("ftp://example.com/hooks", ["*"], "webhook-url", "Only http:// and https://"),
        ("", ["*"], "webhook-url", "Enter the URL to send events to"),
        ("http://127.0.0.1:9/kept", [], "webhook-events", "Choose the events to send"),
    ],
)
async def test_a_change_refused_is_shown_at_its_field_and_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    events: list[str],
    field: str,
    said: str,
) -> None:
    await sign_up(client)
    here = await endpoint_added(client, receiver.url(), "api_key.created")
    # The rule the server runs with (only the endpoint above needed loopback allowed).
    policy: UrlPolicy = app.state.webhook_urls
    monkeypatch.setattr(policy, "allow_private", False)

    refused = await post_form(client, here, here, {"url": url, "events": events})
    assert refused.status_code == 422
    page = refused.text
    assert said in html.unescape(page)
    assert "<title>Error: " in page
    assert f'<li><a href="#{field}">' in page  # the summary links to the field
    assert f'id="{field}-error"' in page
    if field == "webhook-url":
        assert re.search(r'id="webhook-url"[^>]* aria-invalid="true"', page)
    assert f'value="{html.escape(url)}"' in page  # what was typed is kept
    after = (await client.get(here)).text
    assert shown_url(after) == receiver.url()
    assert "<dd>api_key.created</dd>" in after
    assert await updates_audited(db) == []


async def test_a_viewer_cannot_change_an_endpoint(
    app: FastAPI, client: httpx.AsyncClient, db: Database, receiver: Receiver
) -> None:
    await sign_up(client)
    here = await endpoint_added(client, receiver.url(), "api_key.created")
    async with joined_member(app, client, roles.VIEWER) as (_email, viewer):
        page = (await viewer.get(here)).text
        assert shown_url(page) == receiver.url()
        assert "Change the URL and events" not in page
        refused = await post_form(
            viewer, here, here, {"url": receiver.url(path="/taken"), "events": ["*"]}
        )
        assert refused.status_code == 403
    assert shown_url((await client.get(here)).text) == receiver.url()
    assert await updates_audited(db) == []
