"""A key's page says who uses it and which permissions it used: during a rotation's
grace, how many clients still use the old key, with End grace now; and the narrower
set of permissions it could hold, applied in one click (no browser)."""

from __future__ import annotations

import html
import re
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from relay.audit.models import AuditEvent
from relay.auth.activity import KeyActivity
from relay.auth.grace import NOT_IN_GRACE
from relay.auth.models import ApiKey
from relay.db import Database
from relay.tenants import roles
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_key_history_pages import PAGE, made
from tests.dashboard.test_members_and_datasets import joined_member


async def use(
    client: httpx.AsyncClient, app: FastAPI, key: str, path: str = "/api/v1/datasets"
) -> None:
    headers = {"X-API-Key": key, "User-Agent": "billing-worker/2.1"}
    assert (await client.get(path, headers=headers)).status_code == 200
    activity: KeyActivity = app.state.activity
    await activity.flush()


async def test_a_rolled_keys_page_counts_who_still_uses_it_and_ends_its_grace(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    key_id, key = await made(client, "Billing")
    here = f"{PAGE}/{key_id}"
    await use(client, app, key)
    page = (await client.get(here)).text
    assert "Who uses this key" in page
    assert "billing-worker/2.1" in page
    assert "End grace now" not in page  # not rolled

    refused = await post_form(client, here, f"{here}/end-grace", {})
    assert refused.status_code == 303
    assert NOT_IN_GRACE in html.unescape((await client.get(here)).text)

    rolled = await post_form(client, PAGE, f"{here}/roll", {"grace_period_seconds": "86400"})
    assert rolled.status_code == 201
    await use(client, app, key)  # the old key, still used
    page = (await client.get(here)).text
    assert "Still used by <strong>1 client</strong> since it was rolled." in page
    assert "It works until " in page
    assert f'href="{here}?end-grace=1" data-open-dialog="end-grace-dialog">End grace now' in page
    assert re.search(
        r'<dialog id="end-grace-dialog"[^>]* open', (await client.get(f"{here}?end-grace=1")).text
    )

    ended = await post_form(client, here, f"{here}/end-grace", {})
    assert ended.status_code == 303
    assert "it is refused from now on." in (await client.get(here)).text
    assert (await client.get("/api/v1/datasets", headers={"X-API-Key": key})).status_code == 401
    async with db.sessionmaker() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "api_key.grace_ended")
        )
    assert event is not None
    assert event.target_id == key_id
    assert event.details["reason"] == "ended"


async def test_a_roll_can_wait_for_the_old_key_to_go_quiet(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    key_id, _ = await made(client, "Deploy")
    here = f"{PAGE}/{key_id}"
    assert 'value="until_quiet"' in (await client.get(f"{here}?roll=1")).text
    rolled = await post_form(client, PAGE, f"{here}/roll", {"grace_period_seconds": "until_quiet"})
    assert rolled.status_code == 201
    async with db.sessionmaker() as session:
        old = await session.get(ApiKey, uuid.UUID(key_id))
    assert old is not None
    assert old.grace_until_quiet
    page = (await client.get(here)).text
    assert "Its grace ends once it has had no request for 15 minutes" in page


async def test_a_key_is_narrowed_to_the_permissions_it_used_in_one_click(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    key_id, key = await made(
        client, "Reporter", access="restricted", scope_datasets="write", scope_audit="read"
    )
    here = f"{PAGE}/{key_id}"
    page = (await client.get(here)).text
    assert "No request in the last 30 days needed a permission." in page
    assert "Narrow to" not in page

    await use(client, app, key)
    page = (await client.get(here)).text
    assert "<code>datasets:read</code>, last " in page
    assert "In 30 days its requests needed only <strong>datasets:read</strong>" in page
    stale = await post_form(client, here, f"{here}/narrow", {"scopes": "audit:read"})
    assert stale.status_code == 303
    assert "look at the suggestion again" in (await client.get(here)).text

    narrowed = await post_form(client, here, f"{here}/narrow", {"scopes": "datasets:read"})
    assert narrowed.status_code == 303
    assert "now holds datasets:read only." in (await client.get(here)).text
    wrote = await client.post("/api/v1/datasets", json={"name": "x"}, headers={"X-API-Key": key})
    assert wrote.status_code == 403
    await use(client, app, key)  # what it did still works
    async with db.sessionmaker() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "api_key.scopes_narrowed")
        )
    assert event is not None
    assert event.details == {"from": ["datasets:write", "audit:read"], "to": ["datasets:read"]}


async def test_a_viewer_sees_the_insight_and_is_offered_no_change(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    key_id, key = await made(client, "Reporter", access="restricted", scope_datasets="write")
    await use(client, app, key)
    async with joined_member(app, client, roles.VIEWER) as (_email, viewer):
        page = (await viewer.get(f"{PAGE}/{key_id}")).text
        assert "billing-worker/2.1" in page
        assert "In 30 days its requests needed only" in page
        assert "/narrow" not in page
