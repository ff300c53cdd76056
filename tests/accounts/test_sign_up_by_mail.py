"""Sign-up with mail configured: nothing is created until the link in the message is
followed, and the answer is the same whether the email is new or already taken."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, text

from relay.db import Database
from relay.tenants.models import Tenant, User
from tests.accounts.helpers import make_owner, page_without, path_of
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_in, sign_up
from tests.mail_server import MailServer, body_of, link_in


async def counts(db: Database) -> tuple[int, int]:
    async with db.sessionmaker() as session:
        tenants = await session.scalar(select(func.count()).select_from(Tenant))
        users = await session.scalar(select(func.count()).select_from(User))
    return tenants or 0, users or 0


async def test_nothing_exists_until_the_link_is_followed(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    email = new_email()
    answer = await sign_up(browser_a, email)
    assert answer.status_code == 200
    assert "Check your email" in answer.text
    assert "relay_session" not in browser_a.cookies
    assert await counts(db) == (0, 0)

    message = mail_server.inbox.wait_for(email)
    assert message["Subject"] == "Finish creating your Relay account"
    link = path_of(link_in(message, "/signup/confirm/"))
    async with db.sessionmaker() as session:
        pending = repr((await session.execute(text("SELECT * FROM pending_sign_ups"))).all())
    assert link.rsplit("/", 1)[1] not in pending  # the token, as its digest only
    assert PASSWORD not in pending  # the password, as its argon2 hash only

    page = await browser_a.get(link)  # a mail scanner's GET creates nothing either
    assert page.status_code == 200
    assert email in page.text
    assert await counts(db) == (0, 0)
    created = await post_form(browser_a, link, link, {})
    assert created.status_code == 303
    assert created.headers["location"] == "/settings/api-keys"
    assert email in (await browser_a.get("/settings/api-keys")).text
    assert await counts(db) == (1, 1)

    assert (await browser_a.get(link)).status_code == 404  # used up
    browser_a.cookies.clear()
    assert (await sign_in(browser_a, email)).status_code == 303


async def test_a_taken_email_gets_the_same_answer_and_a_note_by_mail(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    new = new_email()
    taken_answer = await sign_up(browser_a, owner.email)
    new_answer = await sign_up(browser_a, new)
    assert taken_answer.status_code == new_answer.status_code == 200

    assert page_without(taken_answer, owner.email) == page_without(new_answer, new)
    note = mail_server.inbox.wait_for(owner.email)
    assert note["Subject"] == "You already have a Relay account"
    assert "/forgot-password" in body_of(note)
    assert "/signup/confirm/" not in body_of(note)
    assert await counts(db) == (1, 1)
    async with db.sessionmaker() as session:
        pending = await session.scalar(text("SELECT count(*) FROM pending_sign_ups"))
    assert pending == 1  # the new email's alone


async def test_the_form_still_says_what_is_wrong_with_it(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    email = new_email()
    short = await post_form(
        browser_a, "/signup", "/signup",
        {"organisation": "Acme", "email": email, "password": "short"},
    )  # fmt: skip
    assert short.status_code == 400
    assert "Password must be at least 10 characters" in short.text
    assert f'value="{email}"' in short.text
    assert mail_server.inbox.to(email) == []


async def test_a_second_sign_up_replaces_the_first_link(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    email = new_email()
    await sign_up(browser_a, email)
    await sign_up(browser_a, email)
    first = path_of(link_in(mail_server.inbox.wait_for(email, 1), "/signup/confirm/"))
    second = path_of(link_in(mail_server.inbox.wait_for(email, 2), "/signup/confirm/"))
    assert (await browser_a.get(first)).status_code == 404
    assert (await post_form(browser_a, second, second, {})).status_code == 303
