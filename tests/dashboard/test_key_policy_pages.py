"""Settings > Key policy (the owner sets it, every member reads it, the keys made
before its maximum lifetime are listed), and what the policy shows on the API Keys
page: the create dialog's expiry and full-access choices, and the notice of keys
expired because unused."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from relay.audit.models import AuditEvent
from relay.dashboard.permissions import refusal
from relay.db import Database, utcnow
from relay.key_policy.unused_keys import expire_unused_keys
from tests.conftest import asgi_client
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_api_keys_page import KEY, create_in_dashboard
from tests.dashboard.test_keys_beyond_the_guide import key_id_of
from tests.dashboard.test_members_and_datasets import joined_member
from tests.key_policy.test_key_policy import end_of_day_in, make_stale

POLICY_PAGE = "/settings/key-policy"
KEYS_PAGE = "/settings/api-keys"
POLICY_API = "/api/v1/key-policy"
NONE_SET = {"max_lifetime_days": "", "expire_unused_after_days": "", "full_access_keys": "allowed"}
OWNERS_ONLY = (
    "Organisation key policy: only an owner may create a full-access key; give the key scopes"
)


async def set_policy(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    return await post_form(client, POLICY_PAGE, POLICY_PAGE, NONE_SET | fields)


async def owner_with_key(client: httpx.AsyncClient) -> dict[str, str]:
    """Sign up, and make a full-access key in the dashboard: the API's headers."""
    await sign_up(client)
    made = KEY.search((await create_in_dashboard(client, "Owner's key")).text)
    assert made is not None
    return {"X-API-Key": made.group()}


async def test_the_owner_sets_the_policy_in_settings_and_the_api_reads_it(
    client: httpx.AsyncClient,
) -> None:
    headers = await owner_with_key(client)
    page = (await client.get(POLICY_PAGE)).text
    assert 'aria-current="page">Key policy</a>' in page
    assert 'name="max_lifetime_days" type="text" inputmode="numeric"' in page
    assert 'value="allowed" checked' in page

    saved = await set_policy(
        client,
        max_lifetime_days="90",
        expire_unused_after_days=" 180 ",
        full_access_keys="owners_only",
    )
    assert (saved.status_code, saved.headers["location"]) == (303, POLICY_PAGE)
    page = (await client.get(POLICY_PAGE)).text
    assert "Key policy saved." in page
    assert re.search(r'name="max_lifetime_days" [^>]*value="90"', page)
    assert 'value="180"' in page
    assert 'value="owners_only" checked' in page
    read = await client.get(POLICY_API, headers=headers)
    assert read.json() == {
        "max_lifetime_days": 90,
        "expire_unused_after_days": 180,
        "full_access_keys": "owners_only",
    }
    events = await client.get("/api/v1/audit-events?action=key_policy.updated", headers=headers)
    (event,) = events.json()["items"]
    assert event["actor"].startswith("user:")

    # Empty fields: no maximum, never.
    assert (await set_policy(client)).status_code == 303
    read = await client.get(POLICY_API, headers=headers)
    assert read.json() == {
        "max_lifetime_days": None,
        "expire_unused_after_days": None,
        "full_access_keys": "allowed",
    }


async def test_a_developer_reads_the_policy_but_cannot_change_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner_with_key(client)
    await set_policy(client, max_lifetime_days="1", full_access_keys="owners_only")
    async with joined_member(app, client) as (_email, member):
        page = (await member.get(POLICY_PAGE)).text
        assert "<dt>Maximum lifetime</dt><dd>1 day</dd>" in page
        assert "<dt>Unused keys expire after</dt><dd>Never</dd>" in page
        assert "Only the owner creates them" in page
        assert "Save key policy" not in page
        assert 'name="max_lifetime_days"' not in page

        refused = await set_policy(member, max_lifetime_days="3650")
        assert refused.status_code == 403
        assert html.escape(refusal("developer", "policies")) in refused.text
    read = await client.get(POLICY_API, headers=headers)
    assert read.json()["max_lifetime_days"] == 1


LIFETIME = "Maximum lifetime: enter a whole number of days from 1 to 3650, or leave it empty "
UNUSED = "Expire unused keys after: enter a whole number of days from 1 to 3650, or leave it "


@pytest.mark.parametrize(
    ("name", "value", "element", "message"),
    [
        ("max_lifetime_days", "0", "policy-max-lifetime", LIFETIME + "for no maximum"),
        ("max_lifetime_days", "3651", "policy-max-lifetime", LIFETIME),
        ("max_lifetime_days", "9" * 5000, "policy-max-lifetime", LIFETIME),
        ("expire_unused_after_days", "text", "policy-expire-unused", UNUSED + "empty for never"),
        ("expire_unused_after_days", "2.5", "policy-expire-unused", UNUSED),
        ("full_access_keys", "nobody", "policy-full-access", "Full-access keys: choose one of"),
    ],
)
async def test_a_refused_value_is_said_at_its_field_and_nothing_is_saved(
    client: httpx.AsyncClient, name: str, value: str, element: str, message: str
) -> None:
    headers = await owner_with_key(client)
    refused = await set_policy(client, **{name: value})
    assert refused.status_code == 422
    page = refused.text
    assert "<title>Error: Key policy · Relay</title>" in page
    error = re.search(rf'<p class="field-error" id="{element}-error">(.*?)</p>', page)
    assert error is not None
    assert message in html.unescape(error.group(1))
    assert f'<a href="#{element}">' in page  # the error summary links to the field
    if name != "full_access_keys":
        assert f'value="{value}" aria-invalid="true" aria-describedby="{element}-error' in page
    else:
        assert 'aria-describedby="policy-full-access-error"' in page
    assert "Input should" not in page  # pydantic's words stay the API's
    read = await client.get(POLICY_API, headers=headers)
    assert read.json()["max_lifetime_days"] is None


async def test_keys_beyond_a_new_maximum_lifetime_are_listed_and_keep_their_expiry(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    for name, fields in (
        ("Forever", {}),
        ("Far off", {"expiration": "custom", "expires_on": "2031-06-30"}),
        ("Within", {"expiration": "30"}),
    ):
        assert (await create_in_dashboard(client, name, **fields)).status_code == 201
    keys_page = (await client.get(KEYS_PAGE)).text
    assert "Keys beyond the maximum lifetime" not in (await client.get(POLICY_PAGE)).text

    await set_policy(client, max_lifetime_days="90")
    page = (await client.get(POLICY_PAGE)).text
    section = page[page.index("Keys beyond the maximum lifetime") :]
    assert "2 live keys have no expiry" in section
    assert "never shortens a key silently" in section
    for name in ("Forever", "Far off"):
        assert f'<a href="{KEYS_PAGE}/{key_id_of(keys_page, name)}">{name}</a>' in section
    assert section.index("Forever") < section.index("Far off")  # oldest first
    assert "Within" not in section
    assert "2031-06-30 23:59 UTC" in section
    # Not shortened: the list of keys still says what they were given.
    assert "2031-06-30 23:59 UTC" in (await client.get(KEYS_PAGE)).text

    # Ten years: only the key without an expiry is beyond it, until it is revoked.
    await set_policy(client, max_lifetime_days="3650")
    page = (await client.get(POLICY_PAGE)).text
    assert "1 live key has no expiry" in page
    assert "Far off" not in page
    forever = key_id_of(keys_page, "Forever")
    await post_form(client, KEYS_PAGE, f"{KEYS_PAGE}/{forever}/revoke", {})
    page = (await client.get(POLICY_PAGE)).text
    assert "None: every live key expires within the maximum lifetime." in page


async def test_the_create_dialog_says_what_a_key_gets_under_a_maximum_lifetime(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    assert '<option value="none" >No expiration</option>' in (await client.get(KEYS_PAGE)).text
    await set_policy(client, max_lifetime_days="45")
    latest = end_of_day_in(45)
    page = (await client.get(KEYS_PAGE)).text
    no_expiry = f"No expiry asked: the policy gives 45 days, until {latest:%Y-%m-%d}"
    assert f'<option value="none" >{no_expiry}</option>' in page
    assert 'aria-describedby="key-expiration-hint"' in page
    assert "a key lives at most 45 days" in page

    made = await create_in_dashboard(client, "Bounded")
    assert made.status_code == 201
    assert f"{latest:%Y-%m-%d} 23:59 UTC" in (await client.get(KEYS_PAGE)).text
    # A longer expiry asked for is refused where it was chosen.
    longer = await create_in_dashboard(client, "Longer", expiration="60")
    assert longer.status_code == 422
    assert re.search(
        r'id="key-expiration" [^>]* aria-invalid="true" '
        r'aria-describedby="key-expiration-error key-expiration-hint"',
        longer.text,
    )
    error = re.search(r'<p class="field-error" id="key-expiration-error">(.*?)</p>', longer.text)
    assert error is not None
    # In people's words: what the policy allows and what to choose instead.
    assert html.unescape(error.group(1)).endswith(
        "The organisation key policy allows at most 45 days: choose a date until "
        f"{latest:%Y-%m-%d}, or no expiry to get the most"
    )
    dated = await create_in_dashboard(client, "Dated", expiration="custom", expires_on="2031-01-01")
    assert dated.status_code == 422
    assert '<p class="field-error" id="key-expires-on-error">' in dated.text
    assert KEY.search(longer.text + dated.text) is None


async def test_full_access_under_owners_only_is_not_offered_to_an_admin_and_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_up(client)
    await set_policy(client, full_access_keys="owners_only")
    owners = (await client.get(KEYS_PAGE)).text
    assert 'value="full" checked data-reveal' in owners  # the owner keeps it
    assert (await create_in_dashboard(client, "Owner's full key")).status_code == 201

    async with joined_member(app, client, "admin") as (_email, admin):
        offered = (await admin.get(KEYS_PAGE)).text
        assert 'value="full" disabled aria-describedby="key-full-access-hint"' in offered
        assert f'<p class="hint" id="key-full-access-hint">{OWNERS_ONLY}.</p>' in offered
        assert 'value="restricted" checked' in offered

        # The server refuses it all the same (a form sent without the page's say-so).
        refused = await create_in_dashboard(admin, "Admin's full key", access="full")
        assert refused.status_code == 422
        error = re.search(r'<p class="field-error" id="key-access-error">(.*?)</p>', refused.text)
        assert error is not None
        assert OWNERS_ONLY in error.group(1)
        assert 'aria-describedby="key-access-error"' in refused.text
        assert KEY.search(refused.text) is None

        scoped = await create_in_dashboard(
            admin, "Admin's reader", access="restricted", scope_datasets="read"
        )
        assert scoped.status_code == 201
        listed = (await admin.get(KEYS_PAGE)).text
        assert "Admin&#39;s reader" in listed
        assert "Admin&#39;s full key" not in listed


async def expired_notice(client: httpx.AsyncClient) -> str:
    page = (await client.get(KEYS_PAGE)).text
    if "Keys expired because unused" not in page:
        return ""
    start = page.index("Keys expired because unused")
    return page[start : page.index("</section>", start)]


async def test_keys_the_sweep_expired_unused_are_noticed_on_the_api_keys_page(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    for name in ("Idle", "Once used", "Fresh"):
        await create_in_dashboard(client, name)
    await set_policy(client, expire_unused_after_days="30")
    page = (await client.get(KEYS_PAGE)).text
    ids = {name: uuid.UUID(key_id_of(page, name)) for name in ("Idle", "Once used", "Fresh")}
    await make_stale(db, ids["Idle"], used_days_ago=None, made_days_ago=40)
    await make_stale(db, ids["Once used"], used_days_ago=35, made_days_ago=50)
    async with asgi_client(app) as stranger:  # another organisation's page
        await sign_up(stranger)
        assert await expired_notice(stranger) == ""
        assert await expired_notice(client) == ""

        assert await expire_unused_keys(db.sessionmaker, app.state.verifier.cache) == 2
        notice = await expired_notice(client)
        assert await expired_notice(stranger) == ""
    assert '<a href="/settings/key-policy">key policy</a>' in notice
    link = f'<li><a href="{KEYS_PAGE}/{ids["Idle"]}">'
    idle = re.search(re.escape(link) + r"Idle \(rl_live_\w+…\)</a>: (.*?)</li>", notice)
    assert idle is not None
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    said = rf"expired {when}, unused for 30 days or more \(never used\)"
    assert re.fullmatch(said, idle.group(1))
    once = re.search(r"Once used \(rl_live_\w+…\)</a>: (.*?)</li>", notice)
    assert once is not None
    last_used = (utcnow() - timedelta(days=35)).strftime("%Y-%m-%d")
    assert f"unused for 30 days or more (last used {last_used}" in once.group(1)
    assert "Fresh" not in notice
    # Expired keys leave the active list, and stay under All.
    assert 'class="status expired">Expired' not in (await client.get(KEYS_PAGE)).text
    assert 'class="status expired">Expired' in (await client.get(f"{KEYS_PAGE}?show=all")).text

    # The notice covers the last 30 days; the audit log keeps the rest.
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.action == "api_key.expired_unused")
            .values(at=utcnow() - timedelta(days=31))
        )
    assert await expired_notice(client) == ""
