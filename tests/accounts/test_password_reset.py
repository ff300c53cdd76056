"""Forgotten passwords: a single-use link valid 30 minutes, by real mail to a real SMTP
server; the same answer whether or not the email has an account; limits per address
and per email; without mail, the page names the operator's command."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
from sqlalchemy import select, text, update

from relay.accounts.models import PasswordResetToken
from relay.app import create_app
from relay.config import Settings
from relay.db import Database, utcnow
from tests.accounts.conftest import secure_settings
from tests.accounts.helpers import actions_of, make_owner, page_without, path_of, signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, post_form, sign_in
from tests.mail_server import MailServer, body_of, link_in

NEW_PASSWORD = "remembered at last"


async def ask_for_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await post_form(client, "/forgot-password", "/forgot-password", {"email": email})


async def test_a_reset_link_arrives_by_mail_and_works_once(
    browser_a: httpx.AsyncClient, browser_b: httpx.AsyncClient, db: Database,
    mail_server: MailServer,
) -> None:  # fmt: skip
    owner = await make_owner(db)
    await signed_in(browser_b, owner.email)  # somewhere else, a session open
    asked = await ask_for_reset(browser_a, owner.email.upper())
    assert asked.status_code == 200
    message = mail_server.inbox.wait_for(owner.email)
    assert message["Subject"] == "Reset your Relay password"
    assert message["From"] == "Relay <relay@example.com>"
    assert "within 30 minutes" in body_of(message)
    link = link_in(message, "/reset-password/")
    assert link.startswith("http://127.0.0.1:8000/reset-password/")  # RELAY_PUBLIC_URL

    page = await browser_a.get(path_of(link))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert owner.email in page.text
    short = await post_form(browser_a, path_of(link), path_of(link), {"password": "short"})
    assert short.status_code == 400
    assert "at least 10 characters" in short.text
    done = await post_form(browser_a, path_of(link), path_of(link), {"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert "Sign in with the new password" in (await browser_a.get("/login")).text

    # Used up; every session of the account ended; only the new password works.
    assert (await browser_a.get(path_of(link))).status_code == 404
    again = await post_form(browser_a, "/login", path_of(link), {"password": "another one!!"})
    assert again.status_code == 404
    assert (await browser_b.get("/settings/account")).headers["location"] == "/login"
    assert (await sign_in(browser_a, owner.email, PASSWORD)).status_code == 401
    assert (await sign_in(browser_a, owner.email, NEW_PASSWORD)).status_code == 303
    assert "user.password_reset" in await actions_of(db, owner)


async def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    stranger = new_email()
    known = await ask_for_reset(browser_a, owner.email)
    unknown = await ask_for_reset(browser_a, stranger)
    assert known.status_code == unknown.status_code == 200

    assert page_without(known, owner.email) == page_without(unknown, stranger)
    assert set(known.headers) == set(unknown.headers)
    mail_server.inbox.wait_for(owner.email)
    # The background task that would send it has run: nothing went to the stranger.
    assert mail_server.inbox.to(stranger) == []


async def test_a_link_expires_after_30_minutes_and_a_newer_one_replaces_it(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await ask_for_reset(browser_a, owner.email)
    first = path_of(link_in(mail_server.inbox.wait_for(owner.email), "/reset-password/"))
    async with db.sessionmaker() as session:
        row = await session.scalar(select(PasswordResetToken))
    assert row is not None
    assert row.expires_at - row.created_at == timedelta(minutes=30)
    await ask_for_reset(browser_a, owner.email)
    second = path_of(link_in(mail_server.inbox.wait_for(owner.email, 2), "/reset-password/"))
    assert (await browser_a.get(first)).status_code == 404
    assert (await browser_a.get(second)).status_code == 200
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await browser_a.get(second)
    assert expired.status_code == 404
    assert "invalid, expired or already used" in expired.text
    # The way on: a new link, or signing in.
    assert '<a href="/forgot-password">Ask for a new reset link</a>' in expired.text
    assert '<a href="/login">Sign in</a>' in expired.text


async def test_more_resets_at_once_than_the_pool_has_connections_stall_nothing(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    """The review's stall: each post held a connection while it waited for argon2 and
    then for a second connection; 16 at once held them all, and every request of the
    worker got 503 after the pool's timeout. Each post costs argon2, so the posts
    count toward the address's reset requests (10 an hour) too."""
    owner = await make_owner(db)
    await ask_for_reset(browser_a, owner.email)
    link = path_of(link_in(mail_server.inbox.wait_for(owner.email), "/reset-password/"))
    token = csrf_of((await browser_a.get(link)).text)
    pool = db.engine.sync_engine.pool
    at_once = pool.size() + max(pool._max_overflow, 0) + 4  # type: ignore[attr-defined]

    answers = await asyncio.gather(
        *(
            browser_a.post(link, data={"csrf_token": token, "password": NEW_PASSWORD})
            for _ in range(at_once)
        )
    )

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(303) == 1  # used once
    assert set(statuses) == {303, 404, 429}  # no 503
    assert statuses.count(429) == at_once - 9  # the address had asked once


async def test_tokens_are_stored_only_as_digests(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await ask_for_reset(browser_a, owner.email)
    token = link_in(mail_server.inbox.wait_for(owner.email), "/reset-password/").rsplit("/", 1)[1]
    async with db.sessionmaker() as session:
        rows = repr((await session.execute(text("SELECT * FROM password_reset_tokens"))).all())
    assert token not in rows


async def test_reset_requests_are_limited_per_address_and_per_email(
    settings: Settings, db: Database, mail_server: MailServer
) -> None:
    app = create_app(secure_settings(settings, mail_server, password_reset_limit=4, email_limit=2))
    owner = await make_owner(db)
    stranger = new_email()
    async with (
        app.router.lifespan_context(app),
        asgi_client(app, "198.51.100.50") as one,
        asgi_client(app, "203.0.113.51") as two,
    ):
        assert (await ask_for_reset(one, owner.email)).status_code == 200
        assert (await ask_for_reset(two, owner.email)).status_code == 200
        # A third message to the same address, from anywhere, is refused; an unknown
        # email is counted just the same, so the refusal tells nothing.
        refused = await ask_for_reset(two, owner.email)
        assert refused.status_code == 429
        assert "Too many messages were asked for this email address" in refused.text
        assert int(refused.headers["Retry-After"]) > 0
        answers = [(await ask_for_reset(one, stranger)).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        # Address one has asked 4 times now: its fifth is refused, whatever the email.
        stopped = await ask_for_reset(one, new_email())
        assert stopped.status_code == 429
        assert "password reset requests from your network" in stopped.text
    assert len(mail_server.inbox.to(owner.email)) == 2


async def test_without_mail_the_page_says_to_ask_an_operator(client: httpx.AsyncClient) -> None:
    page = await client.get("/forgot-password")
    assert page.status_code == 200
    assert "relay users reset-password --email" in page.text
    assert 'name="email"' not in page.text
    login = (await client.get("/login")).text
    assert 'href="/forgot-password"' in login
    refused = await post_form(client, "/login", "/forgot-password", {"email": new_email()})
    assert refused.status_code == 404
    assert re.search(r"Ask its operator", refused.text)
