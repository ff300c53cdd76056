"""Settings > Audit log filtered by actor and by API key, with the action and date
filters, kept by the pager; actions and actors said in words; a filter it cannot read
or does not know is ignored, never a 500."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from relay.dashboard import audit_pages
from tests.conftest import asgi_client
from tests.dashboard.helpers import new_email, post_form, sign_up
from tests.factories import RECORDED_IN_BACKGROUND

AUDIT = "/settings/audit-log"
KEYS_PAGE = "/settings/api-keys"
KEYS_API = "/api/v1/auth/api-keys"
KEY = re.compile(r"rl_live_[0-9A-Za-z]{38}")
ROW = re.compile(r'<tr role="row">\s*(<td.*?)</tr>', re.DOTALL)
CELL = re.compile(r'<td role="cell" data-label="(\w+)">(.*?)</td>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Row:
    action: str  # the code, shown beneath the words
    words: str
    actor: str
    target: str


def rows(page: httpx.Response) -> list[Row]:
    """The events the page lists, newest first."""
    assert page.status_code == 200, page.text
    found = []
    for row in ROW.findall(page.text):
        cells = dict(CELL.findall(row))
        code = re.search(r"<code[^>]*>(.*?)</code>", cells["Action"])
        assert code, cells["Action"]
        words = cells["Action"].split("<br>")[0]
        found.append(
            Row(
                code.group(1),
                html.unescape(words),
                html.unescape(TAG.sub("", cells["Actor"])),
                html.unescape(TAG.sub("", cells["Target"])),
            )
        )
    return found


def without_sightings(listed: list[Row]) -> list[Row]:
    return [row for row in listed if row.action not in RECORDED_IN_BACKGROUND]


@dataclass(frozen=True)
class Tenant:
    email: str
    deploy_prefix: str
    deploy_id: str
    batch_id: str


async def set_up(client: httpx.AsyncClient) -> Tenant:
    """A member who makes two keys, Deploy and Batch; then Deploy, through the API,
    makes a dataset and revokes Batch. (Deploy's first use from an address is written in
    the background, once a second: it may come at any time; tests leave it out.)"""
    email = new_email()
    await sign_up(client, email)
    made = {}
    for name in ("Deploy", "Batch"):
        created = await post_form(
            client, KEYS_PAGE, KEYS_PAGE, {"name": name, "expiration": "none"}
        )
        assert created.status_code == 201
        key = KEY.search(created.text)
        assert key
        made[name] = key.group()
    headers = {"X-API-Key": made["Deploy"]}
    listed = (await client.get(KEYS_API, headers=headers)).json()
    ids = {key["name"]: key["id"] for key in listed}
    dataset = await client.post("/api/v1/datasets", json={"name": "Scenes"}, headers=headers)
    assert dataset.status_code == 201
    revoked = await client.delete(f"{KEYS_API}/{ids['Batch']}", headers=headers)
    assert revoked.status_code == 204
    return Tenant(email, made["Deploy"][:12], ids["Deploy"], ids["Batch"])


async def test_actor_filter_lists_only_that_actors_events(client: httpx.AsyncClient) -> None:
    tenant = await set_up(client)
    by_member = rows(await client.get(AUDIT, params={"actor": f"user:{tenant.email}"}))
    assert {row.actor for row in by_member} == {tenant.email}
    assert {(row.action, row.target) for row in by_member} >= {
        ("api_key.created", f"Deploy ({tenant.deploy_prefix}…)"),
    }
    assert "api_key.revoked" not in {row.action for row in by_member}

    deploy = f"api_key:{tenant.deploy_prefix}"
    by_key = rows(await client.get(AUDIT, params={"actor": deploy}))
    named = f"API key Deploy ({tenant.deploy_prefix}…)"
    assert {row.actor for row in by_key} == {named}
    assert {row.action for row in by_key} - RECORDED_IN_BACKGROUND == {
        "dataset.created",
        "api_key.revoked",
    }
    assert "api_key.created" not in {row.action for row in by_key}


async def test_key_filter_lists_only_events_about_that_key_and_combines(
    client: httpx.AsyncClient,
) -> None:
    tenant = await set_up(client)
    about_batch = rows(await client.get(AUDIT, params={"key": tenant.batch_id}))
    assert [row.action for row in about_batch] == ["api_key.revoked", "api_key.created"]
    assert all(row.target.startswith("Batch (rl_live_") for row in about_batch)

    revoked_only = await client.get(
        AUDIT, params={"key": tenant.batch_id, "action": "api_key.revoked"}
    )
    assert [row.action for row in rows(revoked_only)] == ["api_key.revoked"]
    by_member = await client.get(
        AUDIT, params={"key": tenant.batch_id, "actor": f"user:{tenant.email}"}
    )
    assert [row.action for row in rows(by_member)] == ["api_key.created"]
    # The form shows what it filters by.
    assert f'<option value="{tenant.batch_id}" selected>' in by_member.text
    assert f'<option value="user:{tenant.email}" selected>' in by_member.text
    tomorrow = await client.get(AUDIT, params={"key": tenant.batch_id, "since": "2999-01-01"})
    assert rows(tomorrow) == []
    assert "No events match these filters" in tomorrow.text


async def test_actions_and_actors_are_in_words_with_the_code_beside(
    client: httpx.AsyncClient,
) -> None:
    tenant = await set_up(client)
    page = await client.get(AUDIT)
    listed = rows(page)
    words = {row.action: row.words for row in listed}
    assert words["api_key.created"] == "API key created"
    assert words["api_key.revoked"] == "API key revoked"
    assert words["dataset.created"] == "Dataset created"
    # The action filter offers words, and sends the code.
    assert '<option value="api_key.rotated" >API key rotated</option>' in page.text
    assert '<option value="member.invited" >Member invited</option>' in page.text
    # Actors: a member by email, a key by its name and prefix.
    assert f'<option value="user:{tenant.email}" >{tenant.email}</option>' in page.text
    deploy = f"api_key:{tenant.deploy_prefix}"
    assert f'<option value="{deploy}" >API key Deploy ({tenant.deploy_prefix}…)</option>' in (
        page.text
    )
    # Keys: by the name the events give them.
    assert f'<option value="{tenant.batch_id}" >Batch (' in page.text


async def test_filters_are_kept_in_the_pager_links(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await set_up(client)
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 1)
    member = f"user:{tenant.email}"
    for query, second_page in (
        ({"actor": member, "action": "api_key.created", "since": "2000-01-01"}, "Deploy ("),
        ({"key": tenant.batch_id, "since": "2000-01-01"}, "Batch ("),
    ):
        first = await client.get(AUDIT, params=query)
        assert len(rows(first)) == 1
        older = re.search(r'href="(/settings/audit-log\?[^"]+)" rel="next"', first.text)
        assert older, f"no link to the older page: {query}"
        link = httpx.URL(html.unescape(older.group(1)))
        assert dict(link.params) == query | {"page": "2"}
        second = rows(await client.get(str(link)))
        assert [row.target.startswith(second_page) for row in second] == [True]


@pytest.mark.parametrize(
    "query",
    [
        "actor=user:nobody@example.com",
        "actor=user:a%00b",
        "actor=%ED%A0%80",  # a lone surrogate, as UTF-8 cannot carry it
        "actor=%FF",
        "actor=" + "x" * 5000,
        "key=not-a-uuid",
        "key=%00",
        "key=" + "1" * 5000,
        "key=",
        "actor=&key=&action=&since=",
    ],
)
async def test_a_filter_it_cannot_read_or_does_not_know_is_ignored(
    client: httpx.AsyncClient, query: str
) -> None:
    await set_up(client)
    everything = without_sightings(rows(await client.get(AUDIT)))
    page = await client.get(f"{AUDIT}?{query}")
    assert without_sightings(rows(page)) == everything
    assert " selected>" not in page.text  # the form shows no filter either
    assert "Clear filters" not in page.text


async def test_a_key_no_event_is_about_lists_nothing_not_everything(
    client: httpx.AsyncClient,
) -> None:
    await set_up(client)
    unknown = str(uuid.uuid4())
    page = await client.get(AUDIT, params={"key": unknown})
    assert rows(page) == []
    assert "No events match these filters" in page.text
    assert f'<option value="{unknown}" selected>An API key with no events</option>' in page.text


async def test_another_tenants_actors_and_keys_are_neither_offered_nor_shown(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    tenant = await set_up(client)
    async with asgi_client(app) as other:
        await sign_up(other)
        offered = await other.get(AUDIT)
        assert tenant.email not in offered.text
        assert tenant.batch_id not in offered.text
        assert tenant.deploy_prefix not in offered.text
        by_their_key = await other.get(AUDIT, params={"key": tenant.batch_id})
        assert rows(by_their_key) == []
        by_their_member = await other.get(AUDIT, params={"actor": f"user:{tenant.email}"})
        assert tenant.email not in by_their_member.text
