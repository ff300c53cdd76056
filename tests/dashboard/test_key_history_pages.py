"""What a key's owner does on a key's own page and sees of a key's history: rename,
Roll and Revoke there, revoked and expired keys under All (when, and by whom), a rolled
key's links to its successor and back, and how to use a new key (no browser)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from relay.auth.models import ApiKey
from relay.db import Database, utcnow
from tests.dashboard.helpers import post_form, sign_up
from tests.dashboard.test_keys_beyond_the_guide import KEY, PAGE, create, key_id_of

ALL = f"{PAGE}?show=all"
EMAIL = "owner@example.com"


async def made(client: httpx.AsyncClient, name: str, **fields: str) -> tuple[str, str]:
    """A key made in the dashboard: its id and the key itself."""
    created = await create(client, name, **fields)
    key = KEY.search(created.text)
    assert key is not None
    return key_id_of((await client.get(PAGE)).text, name), key.group()


def row_of(page: str, key_id: str) -> str:
    row = re.search(rf'<tr role="row" data-key-id="{key_id}">(.*?)</tr>', page, re.S)
    assert row is not None, f"no row for {key_id}"
    return row.group(1)


async def test_a_revoked_key_leaves_the_active_list_and_stays_under_all_with_who_and_when(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    key_id, _ = await made(client, "Old CI")
    await post_form(client, PAGE, f"{PAGE}/{key_id}/revoke", {})

    active = (await client.get(PAGE)).text
    assert f'data-key-id="{key_id}"' not in active
    assert "No active API keys." in active
    assert "lists the revoked and expired ones" in active
    row = row_of((await client.get(ALL)).text, key_id)
    assert '<span class="status revoked">Revoked</span>' in row
    today = utcnow().strftime("%Y-%m-%d")
    assert re.search(rf'<span class="ended">{today} \d\d:\d\d UTC, by {EMAIL}</span>', row)
    assert "data-confirm-dialog" not in row
    assert "/suspend" not in row

    page = await client.get(f"{PAGE}/{key_id}")  # its page stays, read only
    assert page.status_code == 200
    assert f"Revoked</span> {today}" in page.text
    assert f"by {EMAIL}: refused for good" in page.text
    assert 'action="/settings/api-keys/' not in page.text  # no form changes it any more
    renamed = await post_form(client, f"{PAGE}/{key_id}", f"{PAGE}/{key_id}/name", {"name": "x"})
    assert renamed.status_code == 303  # refused: back to the list with an error
    assert (await client.get(renamed.headers["location"])).text.count("API key not found") == 1


async def test_a_key_revoked_through_the_api_names_the_key_that_revoked_it(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    _, admin = await made(client, "Admin")
    victim_id, _ = await made(client, "Victim")
    gone = await client.delete(f"/api/v1/auth/api-keys/{victim_id}", headers={"X-API-Key": admin})
    assert gone.status_code == 204
    row = row_of((await client.get(ALL)).text, victim_id)
    assert f", by API key {admin[:12]}…</span>" in row


async def test_an_expired_key_is_listed_under_all_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    key_id, _ = await made(client, "Short-lived")
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == uuid.UUID(key_id))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert f'data-key-id="{key_id}"' not in (await client.get(PAGE)).text
    row = row_of((await client.get(ALL)).text, key_id)
    assert '<span class="status expired">Expired</span>' in row
    assert "/roll" not in row
    assert "/suspend" not in row
    assert "/revoke" in row
    page = (await client.get(f"{PAGE}/{key_id}")).text
    assert "Expired</span>" in page
    assert f'action="{PAGE}/{key_id}/name"' not in page


async def test_a_rolled_key_links_to_its_successor_and_back(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    old_id, old_key = await made(client, "Deploy")
    rolled = await post_form(
        client, PAGE, f"{PAGE}/{old_id}/roll", {"grace_period_seconds": "3600"}
    )
    assert rolled.status_code == 201
    new_key = KEY.search(rolled.text)
    assert new_key is not None
    listed = (await client.get(PAGE)).text
    new_id = next(
        match.group(1)
        for match in re.finditer(r'data-key-id="([0-9a-f-]{36})"', listed)
        if match.group(1) != old_id
    )
    to_new = f'Rolled into <a href="{PAGE}/{new_id}"><code>{new_key.group()[:12]}…</code></a>'
    to_old = f'Rolled from <a href="{PAGE}/{old_id}"><code>{old_key[:12]}…</code></a>'
    assert to_new in row_of(listed, old_id)
    assert to_old in row_of(listed, new_id)

    old_page = (await client.get(f"{PAGE}/{old_id}")).text
    assert f'<dt>Rolled into</dt><dd><a href="{PAGE}/{new_id}">' in old_page
    assert 'href="/settings/api-keys/' + old_id + '?roll=1"' not in old_page  # rolled once
    new_page = (await client.get(f"{PAGE}/{new_id}")).text
    assert f'<dt>Rolled from</dt><dd><a href="{PAGE}/{old_id}">' in new_page


async def test_rename_on_the_keys_page_changes_the_key_everywhere(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    key_id, key = await made(client, "Staging")
    here = f"{PAGE}/{key_id}"
    renamed = await post_form(client, here, f"{here}/name", {"name": "Staging (EU)"})
    assert renamed.status_code == 303
    assert renamed.headers["location"] == here
    page = (await client.get(here)).text
    assert "<h1>Staging (EU)</h1>" in page
    assert "Name of API key “Staging (EU)” saved." in page
    api = await client.get(f"/api/v1/auth/api-keys/{key_id}", headers={"X-API-Key": key})
    assert api.json()["name"] == "Staging (EU)"
    audit = await client.get(
        "/api/v1/audit-events?action=api_key.updated", headers={"X-API-Key": key}
    )
    assert [event["target_id"] for event in audit.json()["items"]] == [key_id]


async def test_a_refused_name_is_sent_back_at_its_field_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    key_id, _ = await made(client, "Keep me")
    here = f"{PAGE}/{key_id}"
    refused = await post_form(client, here, f"{here}/name", {"name": "   "})
    assert refused.status_code == 422
    assert 'id="key-name-error"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "<h1>Keep me</h1>" in (await client.get(here)).text


async def test_roll_and_revoke_are_on_the_keys_page_without_javascript_too(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    key_id, key = await made(client, "Worker")
    here = f"{PAGE}/{key_id}"
    page = (await client.get(here)).text
    assert f'href="{here}?roll=1" data-open-dialog="roll-dialog">Roll' in page
    assert f'href="{here}?revoke=1" data-open-dialog="revoke-dialog">Revoke' in page

    rolling = (await client.get(f"{here}?roll=1")).text  # the dialog as a page of its own
    assert re.search(r'<dialog id="roll-dialog"[^>]* open data-autoshow>', rolling)
    assert f'action="{here}/roll"' in rolling
    revoking = (await client.get(f"{here}?revoke=1")).text
    assert re.search(r'<dialog id="revoke-dialog"[^>]* open data-autoshow>', revoking)
    assert "Revoke “<strong data-confirm-name>Worker</strong>”?" in revoking

    revoked = await post_form(client, here, f"{here}/revoke", {})
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/datasets", headers={"X-API-Key": key})).status_code == 401


async def test_the_new_key_dialog_shows_how_to_use_the_key_at_relays_address(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await sign_up(client)
    base = app.state.settings.public_url.rstrip("/")
    created = await create(client, "Everything")
    key = KEY.search(created.text)
    assert key is not None
    usage = re.search(r'<code id="new-key-usage">(.*?)</code>', created.text, re.S)
    assert usage is not None
    export, curl = usage.group(1).splitlines()
    assert export == f"export RELAY_API_KEY={key.group()}"
    assert curl == f"curl {base}/api/v1/datasets -H &#34;X-API-Key: $RELAY_API_KEY&#34;"
    assert 'data-copy="new-key-usage"' in created.text

    # A key that may not read datasets is shown a list it may read, and that works.
    keys_only = await create(
        client, "Key admin", access="restricted", scope_datasets="none", scope_api_keys="read"
    )
    restricted = KEY.search(keys_only.text)
    assert restricted is not None
    shown = re.search(r"curl (\S+) -H", keys_only.text)
    assert shown is not None
    assert shown.group(1) == f"{base}/api/v1/auth/api-keys"
    path = shown.group(1).removeprefix(base)
    assert (await client.get(path, headers={"X-API-Key": restricted.group()})).status_code == 200
