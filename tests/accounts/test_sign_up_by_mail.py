"""Sign-up with mail configured: nothing is created until the link in the message is
followed, the organisation and the password are chosen by whoever follows it, and
the answer is the same whether the email is new or already taken."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, text

from relay.db import Database
from relay.tenants.models import Tenant, User
from tests.accounts.helpers import make_owner, page_without, path_of
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_in, sign_up
from tests.mail_server import MailServer, body_of, link_in

ATTACKER_PASSWORD = "the attacker's own password"


async def confirm(
    client: httpx.AsyncClient, link: str, password: str = PASSWORD, organisation: str = "Acme"
) -> httpx.Response:
    return await post_form(client, link, link, {"organisation": organisation, "password": password})


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

    page = await browser_a.get(link)  # a mail scanner's GET creates nothing either
    assert page.status_code == 200
    assert email in page.text
    assert 'name="password"' in page.text
    assert 'name="organisation"' in page.text
    assert await counts(db) == (0, 0)
    created = await confirm(browser_a, link)
    assert created.status_code == 303
    assert created.headers["location"] == "/settings/api-keys"
    assert email in (await browser_a.get("/settings/api-keys")).text
    assert await counts(db) == (1, 1)

    used = await browser_a.get(link)
    assert used.status_code == 404  # used up
    assert '<a href="/signup">Sign up again</a>' in used.text
    assert '<a href="/login">Sign in</a>' in used.text
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


async def test_the_sign_up_form_asks_for_the_address_only(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    page = (await browser_a.get("/signup")).text
    assert 'name="email"' in page
    assert 'name="password"' not in page
    assert 'name="organisation"' not in page
    bad = await post_form(browser_a, "/signup", "/signup", {"email": "not an address"})
    assert bad.status_code == 400
    assert "Enter a valid email address" in bad.text


async def test_the_confirmation_page_says_what_is_wrong_and_keeps_the_link(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    email = new_email()
    await sign_up(browser_a, email)
    link = path_of(link_in(mail_server.inbox.wait_for(email), "/signup/confirm/"))
    short = await confirm(browser_a, link, password="short")
    assert short.status_code == 400
    assert "Password must be at least 10 characters" in short.text
    assert 'value="Acme"' in short.text
    nameless = await confirm(browser_a, link, organisation=" ")
    assert nameless.status_code == 400
    assert "Organisation name must be 1 to 200 characters" in nameless.text
    assert await counts(db) == (0, 0)
    assert (await confirm(browser_a, link)).status_code == 303


async def test_a_sign_up_by_someone_else_binds_no_password_to_the_address(
    browser_a: httpx.AsyncClient,
    browser_b: httpx.AsyncClient,
    db: Database,
    mail_server: MailServer,
) -> None:
    """The review's takeover: the victim signs up, an attacker signs up for the same
    address with a password of their own. Whichever link the victim follows (the
    attacker's sits in the victim's inbox too), the victim chooses the password, and
    the attacker's typing never reaches the account."""
    victim = new_email()
    await sign_up(browser_a, victim)
    own = path_of(link_in(mail_server.inbox.wait_for(victim, 1), "/signup/confirm/"))
    await post_form(
        browser_b, "/signup", "/signup",
        {"email": victim, "organisation": "Evil Corp", "password": ATTACKER_PASSWORD},
    )  # fmt: skip
    attackers = path_of(link_in(mail_server.inbox.wait_for(victim, 2), "/signup/confirm/"))
    assert (await browser_a.get(own)).status_code == 200  # the victim's link still works
    page = await browser_a.get(attackers)
    assert "Evil Corp" not in page.text

    assert (await confirm(browser_a, attackers, organisation="Victim Ltd")).status_code == 303
    assert (await browser_a.get(own)).status_code == 404  # every link of the address is used
    async with db.sessionmaker() as session:
        tenant = await session.scalar(select(Tenant.name))
    assert tenant == "Victim Ltd"
    browser_b.cookies.clear()
    refused = await sign_in(browser_b, victim, ATTACKER_PASSWORD)
    assert refused.status_code != 303
    browser_a.cookies.clear()
    assert (await sign_in(browser_a, victim)).status_code == 303


async def test_sign_ups_by_others_do_not_lock_the_address_out(
    browser_a: httpx.AsyncClient,
    browser_b: httpx.AsyncClient,
    db: Database,
    mail_server: MailServer,
) -> None:
    """Past the address's share of messages (3 an hour) nothing more is sent, but the
    owner's own sign-up is answered as usual, and any link already sent works."""
    victim = new_email()
    for _ in range(3):
        assert (await sign_up(browser_b, victim)).status_code == 200
    links = [
        path_of(link_in(mail_server.inbox.wait_for(victim, n), "/signup/confirm/"))
        for n in (1, 2, 3)
    ]
    answer = await sign_up(browser_a, victim)
    assert answer.status_code == 200
    assert "already sent" in answer.text
    assert len(mail_server.inbox.to(victim)) == 3
    assert [(await browser_a.get(link)).status_code for link in links] == [200, 200, 200]
    assert (await confirm(browser_a, links[0])).status_code == 303
    assert await counts(db) == (1, 1)


async def test_a_second_sign_up_keeps_the_first_link_working(
    browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    email = new_email()
    await sign_up(browser_a, email)
    await sign_up(browser_a, email)
    first = path_of(link_in(mail_server.inbox.wait_for(email, 1), "/signup/confirm/"))
    second = path_of(link_in(mail_server.inbox.wait_for(email, 2), "/signup/confirm/"))
    assert (await browser_a.get(first)).status_code == 200
    assert (await confirm(browser_a, second)).status_code == 303
    assert (await browser_a.get(first)).status_code == 404
