"""Settings > API Keys: the same records as the API, the key shown once, revocation."""

from __future__ import annotations

import re

import httpx

from relay.db import Database
from tests.dashboard.helpers import post_form, sign_up

PAGE = "/settings/api-keys"
KEY = re.compile(r"rl_live_[0-9A-Za-z]{38}")


async def create_in_dashboard(
    client: httpx.AsyncClient, name: str, **fields: str
) -> httpx.Response:
    return await post_form(client, PAGE, PAGE, {"name": name, "expiration": "none"} | fields)


async def test_created_key_is_shown_once_and_works_with_the_api(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    created = await create_in_dashboard(client, "Production Server", expiration="30")

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    full_key = KEY.search(created.text)
    assert full_key is not None
    assert "will not be shown again" in created.text

    api = await client.get("/api/v1/datasets", headers={"X-API-Key": full_key.group()})
    assert api.status_code == 200

    again = await client.get(PAGE)
    assert full_key.group() not in again.text
    assert full_key.group()[:12] + "…" in again.text
    assert "Production Server" in again.text


async def test_key_made_with_the_api_shows_in_the_dashboard(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    dashboard_key = KEY.search((await create_in_dashboard(client, "Bootstrap")).text)
    assert dashboard_key is not None
    await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "Made with curl", "expires_at": "2031-01-01T00:00:00Z"},
        headers={"X-API-Key": dashboard_key.group()},
    )
    page = (await client.get(PAGE)).text
    assert page.index("Made with curl") < page.index("Bootstrap")  # newest first
    assert "2031-01-01 00:00 UTC" in page
    assert "Never" in page  # Bootstrap: no expiry, "Made with curl": never used


async def test_expiry_choices_and_custom_date(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    await create_in_dashboard(client, "Custom", expiration="custom", expires_on="2031-06-30")
    listed = (await client.get(PAGE)).text
    assert "2031-06-30 23:59 UTC" in listed


async def test_a_refused_key_keeps_what_was_typed_and_says_what_is_wrong(
    client: httpx.AsyncClient,
) -> None:
    # The review: the name was lost, the menu reset to "No expiration" above a date
    # error, aria-invalid sat on a hidden field and the words were pydantic's.
    await sign_up(client)
    past = await create_in_dashboard(
        client,
        "Contractor",
        expiration="custom",
        expires_on="2020-01-01",
        access="restricted",
        scope_datasets="read",
    )
    assert past.status_code == 422
    page = past.text
    assert "<title>Error: API Keys · Relay</title>" in page
    assert 'value="Contractor"' in page
    assert '<option value="custom" selected>' in page
    assert 'value="2020-01-01" aria-invalid="true" aria-describedby="key-expires-on-error"' in page
    assert '<p class="field-error" id="key-expires-on-error">' in page
    assert "Choose a date after today" in page
    assert '<a href="#key-expires-on">Choose a date after today</a>' in page  # the summary
    assert 'value="restricted" checked' in page
    assert '<option value="read" selected>Read</option>' in page
    assert "must be in the future" not in page

    blank = await create_in_dashboard(client, "   ")
    assert "Enter a name for the key" in blank.text
    assert 'id="key-name" name="name"' in blank.text
    no_date = await create_in_dashboard(client, "Dated", expiration="custom", expires_on="")
    assert "Enter a date, or choose another expiration" in no_date.text
    assert "invalid character" not in no_date.text
    not_a_date = await create_in_dashboard(client, "Dated", expiration="custom", expires_on="31/12")
    assert "Expiry date: enter a real date, for example 2030-03-31" in not_a_date.text
    assert KEY.search(past.text + blank.text + no_date.text + not_a_date.text) is None


async def test_revoke_removes_the_row_and_the_api_refuses_the_key(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    full_key = KEY.search((await create_in_dashboard(client, "Doomed")).text)
    assert full_key is not None
    key_id = re.search(r'data-key-id="([0-9a-f-]+)"', (await client.get(PAGE)).text)
    assert key_id is not None

    confirm = await client.get(f"{PAGE}?revoke={key_id.group(1)}")
    assert "Revoke “<strong data-confirm-name>Doomed</strong>”" in confirm.text
    revoked = await post_form(client, PAGE, f"{PAGE}/{key_id.group(1)}/revoke", {})
    assert revoked.status_code == 303

    after = await client.get(PAGE)
    assert "API key “Doomed” revoked." in after.text
    assert 'data-key-id="' not in after.text
    refused = await client.get("/api/v1/datasets", headers={"X-API-Key": full_key.group()})
    assert refused.status_code == 401


async def test_key_names_are_escaped(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    await create_in_dashboard(client, "<script>alert(1)</script>")
    page = (await client.get(PAGE)).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_another_tenants_key_cannot_be_revoked_from_the_dashboard(
    app: object, client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    victim_key = KEY.search((await create_in_dashboard(client, "Victim")).text)
    assert victim_key is not None
    victim_id = re.search(r'data-key-id="([0-9a-f-]+)"', (await client.get(PAGE)).text)
    assert victim_id is not None

    client.cookies.clear()
    await sign_up(client)
    response = await post_form(client, PAGE, f"{PAGE}/{victim_id.group(1)}/revoke", {})
    assert response.status_code == 303
    # Said as an error, at once (role="alert"), not as a green "done" message.
    refused = '<p class="flash flash-error" role="alert" data-announce>API key not found</p>'
    assert refused in (await client.get(PAGE)).text
    still = await client.get("/api/v1/datasets", headers={"X-API-Key": victim_key.group()})
    assert still.status_code == 200
