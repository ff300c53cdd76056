"""The dashboard's side of scopes, rotation, usage, the audit log, suspension and the
datasets and addresses a key is limited to (no browser)."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI

from tests.dashboard.helpers import PASSWORD, post_form, sign_in, sign_up

PAGE = "/settings/api-keys"
AUDIT = "/settings/audit-log"
KEY = re.compile(r"rl_live_[0-9A-Za-z]{38}")


async def create(client: httpx.AsyncClient, name: str, **fields: str | list[str]) -> httpx.Response:
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
    assert detail.text.count('<svg class="chart chart-') == 2  # a desktop one and a phone one
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


async def new_dataset(client: httpx.AsyncClient, name: str) -> str:
    """A dataset made in the dashboard; its id."""
    made = await post_form(client, "/datasets/new", "/datasets", {"name": name})
    assert made.status_code == 303
    return str(made.headers["location"]).rsplit("/", 1)[1]


async def datasets_listed(client: httpx.AsyncClient, key: str) -> tuple[list[str], int] | int:
    """(names, total) of GET /api/v1/datasets with `key`, or the status it got instead."""
    answer = await client.get("/api/v1/datasets", headers={"X-API-Key": key})
    if answer.status_code != 200:
        return answer.status_code
    body = answer.json()
    return [item["name"] for item in body["items"]], body["total"]


async def test_a_key_made_in_the_dialog_reaches_only_the_datasets_and_networks_chosen(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    shared = await new_dataset(client, "Shared with the partner")
    await new_dataset(client, "Internal")
    dialog = (await client.get(f"{PAGE}?create=1")).text
    assert f'name="dataset_id" value="{shared}"' in dialog
    assert 'id="key-allowed-ips" name="allowed_ips"' in dialog

    created = await create(
        client, "Partner", datasets="chosen", dataset_id=shared, allowed_ips="127.0.0.0/8\n"
    )
    assert created.status_code == 201
    assert "(Full access · 1 dataset · 1 network)" in created.text
    key = KEY.search(created.text)
    assert key
    assert await datasets_listed(client, key.group()) == (["Shared with the partner"], 1)
    row = (await client.get(PAGE)).text
    limits = '<span class="limits"><span class="visually-hidden">Limited to </span>'
    assert f"Full access{limits}1 dataset · 1 network</span>" in row

    # Elsewhere than 127.0.0.1, where this client calls from: refused.
    office = await create(client, "Office", allowed_ips="203.0.113.0/24\r\n2001:DB8::/32")
    office_key = KEY.search(office.text)
    assert office_key
    refused = await client.get("/api/v1/datasets", headers={"X-API-Key": office_key.group()})
    assert refused.json()["code"] == "address_not_allowed"
    office_page = (await client.get(f"{PAGE}/{key_id_of(office.text, 'Office')}")).text
    assert "<code>203.0.113.0/24</code>" in office_page
    assert "<code>2001:db8::/32</code>" in office_page  # as stored: canonical
    assert "All datasets" in office_page


async def test_limits_refused_in_the_dialog_are_said_at_their_fields_with_the_values_kept(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    kept = await new_dataset(client, "Kept")
    none_ticked = await create(
        client, "Nothing chosen", datasets="chosen", allowed_ips="198.51.100.7"
    )
    assert none_ticked.status_code == 422
    page = none_ticked.text
    assert "<title>Error: API Keys · Relay</title>" in page
    assert '<a href="#key-datasets">Choose at least one dataset, or All datasets</a>' in page
    assert 'id="key-datasets" tabindex="-1" aria-describedby="key-datasets-error"' in page
    assert '<p class="field-error" id="key-datasets-error">' in page
    assert 'value="chosen" checked' in page
    assert 'value="Nothing chosen"' in page
    assert ">198.51.100.7</textarea>" in page

    for typed, said in (
        ("10.0.0.1/8", "“10.0.0.1/8” is not where its network starts: write 10.0.0.0/8"),
        ("203.0.113.0/24, intranet", "“intranet” is not an IP address or network"),
        ("\n".join(f"203.0.113.{n}" for n in range(51)), "List at most 50 addresses or networks"),
    ):
        refused = await create(
            client, "Bad network", datasets="chosen", dataset_id=kept, allowed_ips=typed
        )
        assert refused.status_code == 422
        assert f'<a href="#key-allowed-ips">{said}' in refused.text
        assert (
            'name="allowed_ips" rows="3" spellcheck="false" autocapitalize="off" '
            'autocomplete="off" aria-invalid="true" '
            'aria-describedby="key-allowed-ips-error key-allowed-ips-hint">' + typed + "</textarea>"
        ) in refused.text
        assert f'value="{kept}" checked' in refused.text

    unknown = await create(client, "Gone", datasets="chosen", dataset_id=[kept, str(uuid.uuid4())])
    assert unknown.status_code == 422
    assert "A dataset chosen does not exist (deleted since, or its ID mistyped)" in unknown.text
    assert f'value="{kept}" checked' in unknown.text
    typo = await create(client, "Typo", datasets="chosen", more_dataset_ids="not-an-id")
    assert "Give each dataset by its ID, as its page shows it" in typo.text
    assert KEY.search(none_ticked.text + unknown.text + typo.text) is None
    assert "Bad network" not in (await client.get(PAGE)).text.split("</table>")[0]


async def test_a_keys_page_changes_what_the_key_reaches_and_lifts_the_limits(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    first = await new_dataset(client, "First")
    second = await new_dataset(client, "Second")
    created = await create(client, "Limited", datasets="chosen", dataset_id=first)
    key = KEY.search(created.text)
    assert key
    key_page = f"{PAGE}/{key_id_of(created.text, 'Limited')}"
    limits = f"{key_page}/restrictions"
    assert await datasets_listed(client, key.group()) == (["First"], 1)  # cached now
    page = (await client.get(key_page)).text
    assert f'<a href="/datasets/{first}">First</a>' in page
    assert "Anywhere" in page

    moved = await post_form(
        client,
        key_page,
        limits,
        {"datasets": "chosen", "dataset_id": [first, second], "allowed_ips": "127.0.0.1"},
    )
    assert (moved.status_code, moved.headers["location"]) == (303, key_page)
    page = (await client.get(key_page)).text
    assert "Datasets and addresses of API key “Limited” saved." in page
    assert "<code>127.0.0.1/32</code>" in page
    assert await datasets_listed(client, key.group()) == (["Second", "First"], 2)

    # A dataset deleted since simply is not listed.
    await post_form(client, f"/datasets/{second}", f"/datasets/{second}/delete", {})
    page = (await client.get(key_page)).text
    assert (
        f'<dt>Datasets</dt><dd><ul class="inline-list"><li><a href="/datasets/{first}">First</a>'
        "</li></ul></dd>"
    ) in page
    assert f'value="{second}"' not in page

    lifted = await post_form(client, key_page, limits, {"datasets": "all", "allowed_ips": ""})
    assert lifted.status_code == 303
    page = (await client.get(key_page)).text
    assert "<dt>Datasets</dt><dd>All datasets</dd>" in page
    assert "<dt>Allowed addresses</dt><dd>Anywhere</dd>" in page
    await new_dataset(client, "Third")
    assert await datasets_listed(client, key.group()) == (["Third", "First"], 2)

    elsewhere = await post_form(
        client, key_page, limits, {"datasets": "all", "allowed_ips": "203.0.113.0/24"}
    )
    assert elsewhere.status_code == 303
    assert await datasets_listed(client, key.group()) == 403


async def test_limits_refused_on_a_keys_page_are_said_at_their_fields(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    created = await create(client, "Unchanged")
    key_page = f"{PAGE}/{key_id_of(created.text, 'Unchanged')}"
    refused = await post_form(
        client, key_page, f"{key_page}/restrictions", {"datasets": "chosen", "allowed_ips": "::1/"}
    )
    assert refused.status_code == 422
    page = refused.text
    assert "<title>Error: Unchanged · API Keys · Relay</title>" in page
    assert '<a href="#key-datasets">Choose at least one dataset, or All datasets</a>' in page
    assert '<a href="#key-allowed-ips">“::1/” is not an IP address or network' in page
    assert page.index('href="#key-datasets"') < page.index('href="#key-allowed-ips"')
    assert 'value="chosen" checked' in page
    assert ">::1/</textarea>" in page
    unknown = await post_form(
        client,
        key_page,
        f"{key_page}/restrictions",
        {"datasets": "chosen", "dataset_id": str(uuid.uuid4())},
    )
    assert unknown.status_code == 422
    assert "A dataset chosen does not exist" in unknown.text
    page = (await client.get(key_page)).text
    assert "<dt>Datasets</dt><dd>All datasets</dd>" in page  # nothing changed


async def test_another_tenants_key_cannot_be_limited_from_the_dashboard(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    created = await create(client, "Victim's")
    key = KEY.search(created.text)
    assert key
    victim_id = key_id_of(created.text, "Victim&#39;s")
    client.cookies.clear()
    await sign_up(client)
    attempt = await post_form(
        client, PAGE, f"{PAGE}/{victim_id}/restrictions", {"allowed_ips": "203.0.113.0/24"}
    )
    assert (attempt.status_code, attempt.headers["location"]) == (303, PAGE)
    assert "API key not found" in (await client.get(PAGE)).text
    assert await datasets_listed(client, key.group()) == ([], 0)


async def test_a_tenant_with_more_datasets_than_a_key_can_hold_gives_older_ones_by_id(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    maker = KEY.search((await create(client, "Maker")).text)
    assert maker
    made = [
        await client.post(
            "/api/v1/datasets", json={"name": f"Set {n:03}"}, headers={"X-API-Key": maker.group()}
        )
        for n in range(101)
    ]
    oldest = made[0].json()["id"]
    dialog = (await client.get(f"{PAGE}?create=1")).text
    assert dialog.count('name="dataset_id"') == 100
    assert f'value="{oldest}"' not in dialog
    assert "Only your newest 100 datasets are listed" in dialog

    created = await create(client, "Archive", datasets="chosen", more_dataset_ids=oldest)
    key = KEY.search(created.text)
    assert key
    assert await datasets_listed(client, key.group()) == (["Set 000"], 1)
    page = (await client.get(f"{PAGE}/{key_id_of(created.text, 'Archive')}")).text
    assert f'<a href="/datasets/{oldest}">Set 000</a>' in page
    assert f'value="{oldest}" checked' in page  # listed with the newest, as chosen
