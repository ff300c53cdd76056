"""Settings > Limit pools (list, create, change, delete; another tenant's pool is not
found) and a key's rate limit, quota and pool in the create dialog, the keys table and
on its own page, each read back through the API (no browser)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from markupsafe import escape

from relay.limits.quotas import Period, resets_at
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_api_keys_page import KEY, create_in_dashboard
from tests.dashboard.test_keys_beyond_the_guide import key_id_of
from tests.dashboard.test_members_and_datasets import joined_member

POOLS_PAGE = "/settings/limit-pools"
KEYS_PAGE = "/settings/api-keys"
POOLS_API = "/api/v1/limit-pools"
KEYS_API = "/api/v1/auth/api-keys"
NO_LIMITS = {
    "rate_limit_requests": "",
    "rate_limit_seconds": "",
    "quota_requests": "",
    "quota_period": "day",
}
KEY_NO_LIMITS = NO_LIMITS | {"pool_id": ""}


async def owner_with_key(client: httpx.AsyncClient) -> dict[str, str]:
    """Sign up, and make a full-access key in the dashboard: the API's headers."""
    await sign_up(client)
    made = KEY.search((await create_in_dashboard(client, "Owner's key")).text)
    assert made is not None
    return {"X-API-Key": made.group()}


async def create_pool(client: httpx.AsyncClient, name: str, **fields: str) -> httpx.Response:
    return await post_form(client, POOLS_PAGE, POOLS_PAGE, NO_LIMITS | {"name": name} | fields)


def pool_id_of(page: str, name: str) -> str:
    shown = re.escape(str(escape(name)))  # as the page escapes it
    found = re.search(r'href="/settings/limit-pools/([0-9a-f-]{36})">' + shown + "<", page)
    assert found, f"no row for {name}"
    return found.group(1)


async def made_pool(client: httpx.AsyncClient, name: str, **fields: str) -> str:
    """A pool made in the dashboard; its id."""
    assert (await create_pool(client, name, **fields)).status_code == 303
    return pool_id_of((await client.get(POOLS_PAGE)).text, name)


async def pools_in_api(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Any]:
    listed = await client.get(POOLS_API, headers=headers)
    assert listed.status_code == 200
    items: list[Any] = listed.json()["items"]
    return items


def refill(period: Period) -> str:
    """When a quota of `period` refills, as the pages say it."""
    moment = resets_at(period, datetime.now(UTC))
    assert moment is not None
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def test_a_pool_is_created_changed_and_deleted_in_settings_and_the_api_reads_it(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    page = (await client.get(POOLS_PAGE)).text
    assert 'aria-current="page">Limit pools</a>' in page
    assert "No limit pools yet." in page
    assert 'name="quota_requests" type="text" inputmode="numeric"' in page

    created = await create_pool(
        client,
        "Acme mobile app",
        rate_limit_requests="600",
        rate_limit_seconds=" 60 ",
        quota_requests="100000",
        quota_period="month",
    )
    assert (created.status_code, created.headers["location"]) == (303, POOLS_PAGE)
    page = (await client.get(POOLS_PAGE)).text
    assert "Limit pool “Acme mobile app” created." in page
    assert '<td role="cell" data-label="Rate limit">600 requests per 60 seconds</td>' in page
    left = f"100,000 of 100,000 left this month, refills {refill('month')}"
    assert f'<td role="cell" data-label="Quota">{left}</td>' in page
    assert '<td role="cell" data-label="Keys">0</td>' in page
    (pool,) = await pools_in_api(client, headers)
    assert pool["name"] == "Acme mobile app"
    assert pool["rate_limit"] == {"requests": 600, "per_seconds": 60}
    assert (pool["quota"]["requests"], pool["quota"]["period"]) == (100000, "month")

    pool_page = f"{POOLS_PAGE}/{pool['id']}"
    page = (await client.get(pool_page)).text
    assert "<title>Acme mobile app · Limit pools · Relay</title>" in page
    assert 'name="rate_limit_requests" type="text" inputmode="numeric" spellcheck="false" ' in page
    assert re.search(r'name="quota_requests" [^>]*value="100000"', page)
    assert '<option value="month" selected>' in page

    # An empty rate limit removes it; the quota changes; the name too.
    changed = await post_form(
        client,
        pool_page,
        pool_page,
        NO_LIMITS | {"name": "Acme iOS", "quota_requests": "5000", "quota_period": "day"},
    )
    assert (changed.status_code, changed.headers["location"]) == (303, pool_page)
    page = (await client.get(pool_page)).text
    assert "Limit pool “Acme iOS” saved." in page
    assert "<dt>Rate limit</dt><dd>None</dd>" in page
    assert f"<dt>Quota</dt><dd>5,000 of 5,000 left today, refills {refill('day')}</dd>" in page
    (pool,) = await pools_in_api(client, headers)
    assert (pool["name"], pool["rate_limit"]) == ("Acme iOS", None)
    assert (pool["quota"]["requests"], pool["quota"]["period"]) == (5000, "day")
    events = await client.get("/api/v1/audit-events?action=limit_pool.updated", headers=headers)
    (event,) = events.json()["items"]
    assert event["actor"].startswith("user:")
    assert event["details"] == {
        "name": "Acme iOS",
        "rate_limit": None,
        "quota": {"requests": 5000, "period": "day"},
    }

    confirm = (await client.get(f"{pool_page}?delete=1")).text
    assert "Delete “<strong data-confirm-name>Acme iOS</strong>” for good?" in confirm
    deleted = await post_form(client, pool_page, f"{pool_page}/delete", {})
    assert (deleted.status_code, deleted.headers["location"]) == (303, POOLS_PAGE)
    assert "Limit pool “Acme iOS” deleted." in (await client.get(POOLS_PAGE)).text
    assert await pools_in_api(client, headers) == []


async def test_pool_values_refused_are_said_at_their_fields_with_what_was_typed_kept(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    refused = await create_pool(
        client,
        "  ",
        rate_limit_requests="1.5",
        rate_limit_seconds="100000",
        quota_requests="0",
        quota_period="weekly",
    )
    assert refused.status_code == 422
    page = refused.text
    assert "<title>Error: Limit pools · Relay</title>" in page
    said = [
        ("pool-name", "Enter a name for the pool"),
        ("pool-rate-requests", "Rate limit: enter a whole number of requests from 1 to 100,000"),
        ("pool-rate-seconds", "Rate limit: enter a whole number of seconds from 1 to 86,400"),
        (
            "pool-quota-requests",
            "Quota: enter a whole number of requests from 1 to 1,000,000,000, or leave it "
            "empty for none",
        ),
    ]
    for element, message in said:
        assert f'<a href="#{element}">{message}</a>' in page  # the summary, in page order
        assert f'<p class="field-error" id="{element}-error">' in page
    assert [page.index(f'href="#{element}"') for element, _ in said] == sorted(
        page.index(f'href="#{element}"') for element, _ in said
    )
    assert 'value="1.5" aria-invalid="true" aria-describedby="pool-rate-requests-error' in page
    assert 'value="100000" aria-invalid="true"' in page
    assert "Input should" not in page

    period = await create_pool(client, "Weekly", quota_requests="7", quota_period="weekly")
    assert '<a href="#pool-quota-period">Quota period: choose one of the options</a>' in period.text
    half = await create_pool(client, "Half", rate_limit_requests="600")
    assert half.status_code == 422
    assert (
        '<a href="#pool-rate-seconds">Rate limit: enter both the requests and the seconds, '
        "or neither</a>"
    ) in half.text
    assert 'value="Half"' in half.text
    assert await pools_in_api(client, headers) == []

    pool_id = await made_pool(client, "Kept", quota_requests="10")
    pool_page = f"{POOLS_PAGE}/{pool_id}"
    renamed = await post_form(client, pool_page, pool_page, NO_LIMITS | {"name": ""})
    assert renamed.status_code == 422
    assert "<title>Error: Kept · Limit pools · Relay</title>" in renamed.text
    assert '<a href="#pool-name">Enter a name for the pool</a>' in renamed.text
    (pool,) = await pools_in_api(client, headers)
    assert (pool["name"], pool["quota"]["requests"]) == ("Kept", 10)  # nothing changed


async def test_another_tenants_pool_is_not_found_and_stays_as_it_was(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    pool_id = await made_pool(client, "A's pool", quota_requests="10")
    client.cookies.clear()
    await sign_up(client)
    token_page = (await client.get(POOLS_PAGE)).text
    assert "A&#39;s pool" not in token_page
    for action, form in (
        ("", None),
        ("", NO_LIMITS | {"name": "Taken over"}),
        ("/delete", {}),
    ):
        answers = []
        for target in (pool_id, str(uuid.uuid4())):
            url = f"{POOLS_PAGE}/{target}{action}"
            if form is None:
                answers.append(await client.get(url))
            else:
                answers.append(await post_form(client, POOLS_PAGE, url, form))
        theirs, missing = answers
        assert theirs.status_code == missing.status_code == 404
        assert "<h1>Limit pool not found</h1>" in theirs.text
        assert "A&#39;s pool" not in theirs.text
    (pool,) = await pools_in_api(client, headers)
    assert (pool["name"], pool["quota"]["requests"]) == ("A's pool", 10)


async def test_a_key_made_with_a_quota_and_a_pool_shows_them_and_what_is_left(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    pool_id = await made_pool(
        client, "Partners", rate_limit_requests="600", rate_limit_seconds="60"
    )
    dialog = (await client.get(f"{KEYS_PAGE}?create=1")).text
    assert f'<option value="{pool_id}">Partners</option>' in dialog
    assert 'id="key-quota-requests" name="quota_requests"' in dialog

    created = await create_in_dashboard(
        client,
        "Metered",
        **KEY_NO_LIMITS
        | {
            "rate_limit_requests": "100",
            "rate_limit_seconds": "60",
            "quota_requests": "1000",
            "pool_id": pool_id,
        },
    )
    assert created.status_code == 201
    assert "(Full access · 100 per 60 s · 1,000 of 1,000 left today · pool “Partners”)" in (
        html.unescape(created.text)
    )
    key = KEY.search(created.text)
    assert key
    key_id = key_id_of(created.text, "Metered")
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    assert read["pool_id"] == pool_id
    assert read["rate_limit"] == {"requests": 100, "per_seconds": 60}
    assert (read["quota"]["requests"], read["quota"]["period"]) == (1000, "day")

    for _ in range(3):
        assert (await client.get("/api/v1/datasets", headers={"X-API-Key": key.group()})).is_success
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    remaining = read["quota"]["remaining"]
    assert remaining < 1000
    key_page = (await client.get(f"{KEYS_PAGE}/{key_id}")).text
    left = f"{remaining:,} of 1,000 left today"
    assert f"<dt>Quota</dt><dd>{left}, refills {refill('day')}</dd>" in key_page
    assert "<dt>Rate limit</dt><dd>100 requests per 60 seconds</dd>" in key_page
    assert f'<dt>Limit pool</dt><dd><a href="/settings/limit-pools/{pool_id}">Partners</a>' in (
        key_page
    )
    listed = html.unescape((await client.get(KEYS_PAGE)).text)
    assert f"Limited to </span>100 per 60 s · {left} · pool “Partners”</span>" in listed
    pools = (await client.get(POOLS_PAGE)).text
    assert '<td role="cell" data-label="Keys">1</td>' in pools


async def test_a_keys_page_changes_its_rate_limit_quota_and_pool_and_audits_only_those(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    pool_id = await made_pool(client, "Batch jobs")
    created = await create_in_dashboard(client, "Worker")
    key_id = key_id_of(created.text, "Worker")
    key_page = f"{KEYS_PAGE}/{key_id}"
    limits = f"{key_page}/limits"
    page = (await client.get(key_page)).text
    for said in ("Rate limit", "Quota", "Limit pool"):
        assert f"<dt>{said}</dt><dd>None</dd>" in page
    assert '<option value="">None</option>' in page

    saved = await post_form(
        client,
        key_page,
        limits,
        KEY_NO_LIMITS | {"quota_requests": "50", "quota_period": "month", "pool_id": pool_id},
    )
    assert (saved.status_code, saved.headers["location"]) == (303, key_page)
    page = (await client.get(key_page)).text
    assert "Rate limit, quota and pool of API key “Worker” saved." in page
    assert f'<option value="{pool_id}" selected>Batch jobs</option>' in page
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    assert (read["quota"]["requests"], read["quota"]["period"]) == (50, "month")
    assert read["pool_id"] == pool_id
    assert "rate_limit" not in read

    # Only the pool changes: the audit log says so, and nothing of the quota.
    moved = await post_form(
        client,
        key_page,
        limits,
        KEY_NO_LIMITS | {"quota_requests": " 50", "quota_period": "month", "pool_id": ""},
    )
    assert moved.status_code == 303
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    assert "pool_id" not in read
    assert read["quota"]["requests"] == 50
    events = await client.get("/api/v1/audit-events?action=api_key.updated", headers=headers)
    assert [event["details"] for event in events.json()["items"]] == [
        {"pool_id": None},
        {"quota": {"requests": 50, "period": "month"}, "pool_id": pool_id},
    ]

    lifted = await post_form(
        client,
        key_page,
        limits,
        KEY_NO_LIMITS | {"rate_limit_requests": "5", "rate_limit_seconds": "1"},
    )
    assert lifted.status_code == 303
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    assert "quota" not in read
    assert read["rate_limit"] == {"requests": 5, "per_seconds": 1}


async def test_key_limits_refused_are_said_at_their_fields(client: httpx.AsyncClient) -> None:
    headers = await owner_with_key(client)
    refused = await create_in_dashboard(
        client,
        "Greedy",
        **KEY_NO_LIMITS
        | {"rate_limit_seconds": "60", "quota_requests": "lots", "pool_id": "not-a-pool"},
    )
    assert refused.status_code == 422
    page = refused.text
    assert "<title>Error: API Keys · Relay</title>" in page
    assert (
        '<a href="#key-rate-requests">Rate limit: enter both the requests and the seconds, '
        "or neither</a>"
    ) in page
    assert '<a href="#key-quota-requests">Quota: enter a whole number of requests' in page
    assert '<a href="#key-pool">Choose a limit pool from the list, or None</a>' in page
    assert 'value="lots" aria-invalid="true"' in page
    assert 'value="Greedy"' in page
    assert KEY.search(page) is None

    gone = await create_in_dashboard(
        client, "Pooled", **KEY_NO_LIMITS | {"pool_id": str(uuid.uuid4())}
    )
    assert gone.status_code == 422
    assert "The limit pool chosen no longer exists (deleted since the page was shown)" in gone.text
    keys = (await client.get(KEYS_API, headers=headers)).json()
    assert [key["name"] for key in keys] == ["Owner's key"]

    key_id = key_id_of((await client.get(KEYS_PAGE)).text, "Owner&#39;s key")
    key_page = f"{KEYS_PAGE}/{key_id}"
    unknown = await post_form(
        client, key_page, f"{key_page}/limits", KEY_NO_LIMITS | {"pool_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 422
    assert '<a href="#key-pool">The limit pool chosen no longer exists' in unknown.text
    assert "<title>Error: Owner&#39;s key · API Keys · Relay</title>" in unknown.text
    bad = await post_form(
        client, key_page, f"{key_page}/limits", KEY_NO_LIMITS | {"quota_requests": "-3"}
    )
    assert bad.status_code == 422
    assert 'value="-3" aria-invalid="true"' in bad.text
    # The other form on the page shows the key's own values, with no error.
    assert 'value="all" checked' in bad.text
    read = (await client.get(f"{KEYS_API}/{key_id}", headers=headers)).json()
    assert "quota" not in read
    assert "pool_id" not in read


async def test_a_pool_with_keys_is_not_deleted_and_says_why(client: httpx.AsyncClient) -> None:
    headers = await owner_with_key(client)
    pool_id = await made_pool(client, "Busy")
    created = await create_in_dashboard(
        client, "In the pool", **KEY_NO_LIMITS | {"pool_id": pool_id}
    )
    pool_page = f"{POOLS_PAGE}/{pool_id}"
    refused = await post_form(client, pool_page, f"{pool_page}/delete", {})
    assert refused.status_code == 409
    reason = "Limit pool has 1 key: move them to another pool or revoke them first"
    assert f'<a href="#pool-delete">{reason}</a>' in refused.text
    error = '<p class="field-error" id="pool-delete-error"><span class="visually-hidden">Error: '
    assert f"{error}</span>{reason}</p>" in refused.text
    assert 'id="pool-delete" href=' in refused.text
    assert len(await pools_in_api(client, headers)) == 1

    key_id = key_id_of(created.text, "In the pool")
    await post_form(client, KEYS_PAGE, f"{KEYS_PAGE}/{key_id}/revoke", {})
    deleted = await post_form(client, pool_page, f"{pool_page}/delete", {})
    assert deleted.status_code == 303
    assert await pools_in_api(client, headers) == []


async def test_admins_manage_pools_and_developers_do_not(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A pool's limits bind every key in it, full-access ones included: a developer,
    whose keys never have full access, manages none (the review: one could lift or
    choke the limits of the owner's key through its pool)."""
    headers = await owner_with_key(client)
    async with joined_member(app, client, "admin") as (_, admin):
        assert (await create_pool(admin, "Made by an admin")).status_code == 303
    async with joined_member(app, client, "developer") as (_, developer):
        refused = await create_pool(developer, "Made by a developer")
        assert refused.status_code == 403
        assert "requires full access" in refused.text
    (pool,) = await pools_in_api(client, headers)
    assert pool["name"] == "Made by an admin"
