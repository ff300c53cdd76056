"""Sessions a user can see and end: listed with browser, address, sign-in and last
use; ending one, or all others; never another user's; ended after 24 hours unused or
14 days after sign-in; "last seen" written at most once a minute."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from relay.accounts.models import WebSession
from relay.db import Database, utcnow
from relay.tokens import token_hash
from tests.accounts.helpers import ACCOUNT, actions_of, make_owner, signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import post_form
from tests.statements import count_statements

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def session_ids(page: str) -> list[str]:
    return re.findall(r"/settings/account/sessions/([0-9a-f-]{36})/end", page)


async def session_row(db: Database, client: httpx.AsyncClient) -> WebSession:
    async with db.sessionmaker() as session:
        row = await session.scalar(
            select(WebSession).where(
                WebSession.token_hash == token_hash(client.cookies["relay_session"])
            )
        )
    assert row is not None
    return row


async def set_session(db: Database, client: httpx.AsyncClient, **values: object) -> None:
    """Change the row of the client's session (its clock, as if time had passed)."""
    row = await session_row(db, client)
    async with db.sessionmaker.begin() as session:
        await session.execute(update(WebSession).where(WebSession.id == row.id).values(**values))


async def test_the_account_page_lists_the_users_sessions(secure_app: FastAPI, db: Database) -> None:
    owner = await make_owner(db)
    async with (
        asgi_client(secure_app, "198.51.100.7") as laptop,
        asgi_client(secure_app, "203.0.113.40") as phone,
    ):
        laptop.headers["User-Agent"] = FIREFOX
        phone.headers["User-Agent"] = SAFARI
        await signed_in(laptop, owner.email)
        await signed_in(phone, owner.email)
        page = (await laptop.get(ACCOUNT)).text
    assert page.count("<tr>") == 3  # the head, and two sessions
    assert "Firefox 133 on Windows" in page
    assert "198.51.100.7" in page
    assert "Safari 18 on iOS" in page
    assert "203.0.113.40" in page
    assert "This session" in page
    assert len(session_ids(page)) == 1  # the other one: this one is not offered


async def test_ending_a_session_signs_that_browser_out(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    await signed_in(browser_b, owner.email)
    [other] = session_ids((await browser_a.get(ACCOUNT)).text)
    ended = await post_form(browser_a, ACCOUNT, f"{ACCOUNT}/sessions/{other}/end", {})
    assert ended.status_code == 303
    assert (await browser_b.get(ACCOUNT)).headers["location"] == "/login"
    assert (await browser_a.get(ACCOUNT)).status_code == 200
    again = await post_form(browser_a, ACCOUNT, f"{ACCOUNT}/sessions/{other}/end", {})
    assert "already ended" in (await browser_a.get(again.headers["location"])).text
    assert "user.session_ended" in await actions_of(db, owner)


async def test_sign_out_all_other_sessions(secure_app: FastAPI, db: Database) -> None:
    owner = await make_owner(db)
    async with (
        asgi_client(secure_app) as mine,
        asgi_client(secure_app) as second,
        asgi_client(secure_app) as third,
    ):
        for browser in (mine, second, third):
            await signed_in(browser, owner.email)
        ended = await post_form(mine, ACCOUNT, f"{ACCOUNT}/sessions/end-others", {})
        assert ended.status_code == 303
        assert "2 other sessions signed out." in (await mine.get(ACCOUNT)).text
        for browser in (second, third):
            assert (await browser.get(ACCOUNT)).headers["location"] == "/login"
        assert (await mine.get(ACCOUNT)).status_code == 200


async def test_no_one_ends_another_users_session(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database
) -> None:
    # Alice and Mallory belong to different tenants (and a member of Alice's tenant
    # is refused the same way: a session is its user's alone).
    alice, mallory = await make_owner(db), await make_owner(db)
    await signed_in(browser_a, alice.email)
    await signed_in(browser_b, mallory.email)
    alices = (await session_row(db, browser_a)).id
    tried = await post_form(browser_b, ACCOUNT, f"{ACCOUNT}/sessions/{alices}/end", {})
    assert "already ended" in (await browser_b.get(tried.headers["location"])).text
    assert (await browser_a.get(ACCOUNT)).status_code == 200
    assert str(alices) not in (await browser_b.get(ACCOUNT)).text
    await post_form(browser_b, ACCOUNT, f"{ACCOUNT}/sessions/end-others", {})
    assert (await browser_a.get(ACCOUNT)).status_code == 200


async def test_a_session_ends_after_24_hours_unused(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    await set_session(db, browser_a, last_seen_at=utcnow() - timedelta(hours=23, minutes=59))
    assert (await browser_a.get(ACCOUNT)).status_code == 200  # seen now: another 24 hours
    await set_session(db, browser_a, last_seen_at=utcnow() - timedelta(hours=24, seconds=1))
    assert (await browser_a.get(ACCOUNT)).headers["location"] == "/login"


async def test_a_session_ends_14_days_after_sign_in_however_busy(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    row = await session_row(db, browser_a)
    assert row.expires_at - row.created_at == timedelta(days=14)
    await set_session(db, browser_a, expires_at=utcnow())
    assert (await browser_a.get(ACCOUNT)).headers["location"] == "/login"


async def test_last_seen_is_written_at_most_once_a_minute(
    browser_a: httpx.AsyncClient, db: Database, secure_app: FastAPI
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    with count_statements(secure_app.state.db) as statements:
        for _ in range(3):
            assert (await browser_a.get("/settings/api-keys")).status_code == 200
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE WEB_SESSIONS")]

    a_while_ago = utcnow() - timedelta(minutes=2)
    await set_session(db, browser_a, last_seen_at=a_while_ago, client_address="192.0.2.99")
    with count_statements(secure_app.state.db) as statements:
        for _ in range(3):
            await browser_a.get("/settings/api-keys")
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE WEB_SESSIONS")]
    assert len(updates) == 1
    seen = await session_row(db, browser_a)
    assert seen.last_seen_at > a_while_ago + timedelta(minutes=1)
    assert seen.client_address == "198.51.100.10"  # where it was seen last
