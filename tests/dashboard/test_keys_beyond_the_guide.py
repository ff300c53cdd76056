"""The dashboard's side of scopes, rotation, usage and the audit log (no browser)."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.dashboard.helpers import PASSWORD, post_form, sign_in, sign_up

PAGE = "/settings/api-keys"
AUDIT = "/settings/audit-log"
KEY = re.compile(r"rl_live_[0-9A-Za-z]{38}")


async def create(client: httpx.AsyncClient, name: str, **fields: str) -> httpx.Response:
    return await post_form(client, PAGE, PAGE, {"name": name, "expiration": "none"} | fields)


def key_id_of(page: str, name: str) -> str:
    match = re.search(r'href="/settings/api-keys/([0-9a-f-]{36})">' + re.escape(name) + "<", page)
    assert match, f"no row for {name}"
    return match.group(1)


async def test_a_restricted_key_gets_exactly_the_levels_chosen(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    created = await create(
        client,
        "Reader",
        access="restricted",
        scope_datasets="read",
        scope_api_keys="none",
        scope_audit="read",
    )
    assert created.status_code == 201
    key = KEY.search(created.text)
    assert key
    headers = {"X-API-Key": key.group()}
    listed = await client.get("/api/v1/audit-events", headers=headers)
    assert listed.status_code == 200
    assert (
        await client.post("/api/v1/datasets", json={"name": "x"}, headers=headers)
    ).status_code == 403
    page = (await client.get(PAGE)).text
    assert "datasets: read, audit: read" in page
    assert "Full access" in (await create(client, "Everything", access="full")).text


async def test_restricted_without_any_permission_is_refused_at_the_field(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    refused = await create(
        client, "Nothing", access="restricted", scope_datasets="none", scope_api_keys="none"
    )
    assert refused.status_code == 422
    assert "Choose at least one permission, or Full access" in refused.text
    assert KEY.search(refused.text) is None


async def test_roll_shows_the_new_key_once_and_the_old_one_lasts_its_grace(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    first = KEY.search((await create(client, "Server")).text)
    assert first
    page = (await client.get(PAGE)).text
    rolled = await post_form(
        client, PAGE, f"{PAGE}/{key_id_of(page, 'Server')}/roll", {"grace_period_seconds": "3600"}
    )
    assert rolled.status_code == 201
    assert rolled.headers["cache-control"] == "no-store"
    second = KEY.search(rolled.text)
    assert second
    assert second.group() != first.group()
    for key in (first.group(), second.group()):
        assert (await client.get("/api/v1/datasets", headers={"X-API-Key": key})).status_code == 200
    assert "Rolled" in (await client.get(PAGE)).text

    # Rolling the new key at once ends it for good.
    page = (await client.get(PAGE)).text
    new_id = re.findall(r'href="/settings/api-keys/([0-9a-f-]{36})">Server<', page)[0]
    await post_form(client, PAGE, f"{PAGE}/{new_id}/roll", {"grace_period_seconds": "0"})
    ended = await client.get("/api/v1/datasets", headers={"X-API-Key": second.group()})
    assert ended.json() == {"detail": "API key expired", "code": "api_key_expired"}


async def test_each_key_has_a_page_with_its_usage_chart(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    key = KEY.search((await create(client, "Charted")).text)
    assert key
    for _ in range(3):
        await client.get("/api/v1/datasets", headers={"X-API-Key": key.group()})
    await app.state.activity.flush()
    page_id = key_id_of((await client.get(PAGE)).text, "Charted")
    detail = await client.get(f"{PAGE}/{page_id}")
    assert detail.status_code == 200
    assert '<svg class="chart"' in detail.text
    assert "<rect" in detail.text
    assert "3 requests in 30 days" in detail.text
    assert "<script" not in detail.text.split("</head>")[1]  # drawn by the server
    assert (await client.get(f"{PAGE}/00000000-0000-4000-8000-000000000000")).status_code == 303


async def test_audit_log_page_shows_sign_ins_and_filters(client: httpx.AsyncClient) -> None:
    email = "auditor-" + re.sub(r"\W", "", str(id(client))) + "@example.com"
    await sign_up(client, email)
    client.cookies.clear()
    assert (await sign_in(client, email, "wrong password!")).status_code == 401
    assert (await sign_in(client, email, PASSWORD)).status_code == 303
    await create(client, "Audited")
    page = await client.get(AUDIT)
    assert page.status_code == 200
    for action in ("user.signed_in", "user.sign_in_failed", "api_key.created"):
        assert action in page.text
    assert f"user:{email}" in page.text
    filtered = await client.get(AUDIT, params={"action": "api_key.created"})
    assert "user.signed_in</code>" not in filtered.text
    assert "Audited" in filtered.text
    for query in ({"action": "nope"}, {"since": "2026-13-45"}, {"page": "٣"}, {"page": "-1"}):
        assert (await client.get(AUDIT, params=query)).status_code == 200, query


async def test_suspend_and_resume_beside_roll_and_revoke(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    created = await create(client, "Batch")
    key = KEY.search(created.text)
    assert key
    headers = {"X-API-Key": key.group()}
    key_id = key_id_of(created.text, "Batch")
    assert (await client.get("/api/v1/datasets", headers=headers)).status_code == 200

    suspended = await post_form(client, PAGE, f"{PAGE}/{key_id}/suspend", {"back": "list"})
    assert (suspended.status_code, suspended.headers["location"]) == (303, PAGE)
    page = (await client.get(PAGE)).text
    assert "API key “Batch” suspended" in page
    assert '<span class="status suspended">Suspended</span>' in page
    assert f'action="{PAGE}/{key_id}/resume"' in page
    refused = await client.get("/api/v1/datasets", headers=headers)
    assert refused.json() == {"detail": "API key disabled", "code": "api_key_disabled"}

    key_page = f"{PAGE}/{key_id}"
    assert "Suspended" in (await client.get(key_page)).text
    resumed = await post_form(client, key_page, f"{key_page}/resume", {"back": "key"})
    assert (resumed.status_code, resumed.headers["location"]) == (303, key_page)
    assert (await client.get("/api/v1/datasets", headers=headers)).status_code == 200
    audit = (await client.get(AUDIT)).text
    assert "api_key.disabled" in audit
    assert "api_key.enabled" in audit
