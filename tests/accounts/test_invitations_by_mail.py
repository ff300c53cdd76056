"""With mail configured, an invitation link goes to the invitee's mailbox and is never
shown to the owner: an owner following their own links learned, from the answer, which
addresses had an account elsewhere (what sign-up by mail no longer tells)."""

from __future__ import annotations

import html

import httpx
from fastapi import FastAPI

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from relay.tenants.members import INVITED_EMAIL_TAKEN
from tests.accounts.conftest import secure_settings
from tests.accounts.helpers import make_owner, path_of, signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, new_email, post_form
from tests.mail_server import MailServer, body_of, link_in

MEMBERS = "/settings/members"


async def invite(owner: httpx.AsyncClient, email: str) -> httpx.Response:
    return await post_form(owner, MEMBERS, MEMBERS, {"email": email})


def sent_notice(page: httpx.Response) -> str:
    """The page's "Invitation sent" card."""
    return page.text.split('id="invite-created">')[1].split("</section>")[0]


async def test_the_link_goes_to_the_invitee_alone_and_works(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, mail_server: MailServer
) -> None:
    owner = await make_owner(secure_app.state.db)
    await signed_in(browser_a, owner.email)
    assert "Send invitation" in (await browser_a.get(MEMBERS)).text
    invitee = new_email()

    sent = await invite(browser_a, invitee)

    assert sent.status_code == 201
    assert "127.0.0.1:8000/invitations/" not in sent.text
    assert invitee in sent_notice(sent)
    mail = mail_server.inbox.wait_for(invitee)
    assert owner.email in body_of(mail)
    assert "Acme" in body_of(mail)
    link = path_of(link_in(mail, "/invitations/"))
    async with asgi_client(secure_app, "203.0.113.40") as member:
        joined = await post_form(member, link, link, {"password": PASSWORD})
        assert joined.status_code == 303
    members_page = (await browser_a.get(MEMBERS)).text
    assert "127.0.0.1:8000/invitations/" not in members_page


async def test_inviting_an_address_with_an_account_elsewhere_answers_the_same(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, mail_server: MailServer
) -> None:
    elsewhere = await make_owner(secure_app.state.db)
    owner = await make_owner(secure_app.state.db)
    await signed_in(browser_a, owner.email)
    fresh = new_email()

    to_fresh = await invite(browser_a, fresh)
    to_taken = await invite(browser_a, elsewhere.email)

    assert to_fresh.status_code == to_taken.status_code == 201
    assert sent_notice(to_taken) == sent_notice(to_fresh).replace(fresh, elsewhere.email)
    # Only the address's owner can follow the link, and learns what they already know.
    link = path_of(link_in(mail_server.inbox.wait_for(elsewhere.email), "/invitations/"))
    async with asgi_client(secure_app, "203.0.113.41") as invited:
        accepted = await post_form(invited, link, link, {"password": PASSWORD})
    assert accepted.status_code == 409
    assert INVITED_EMAIL_TAKEN in html.unescape(accepted.text)


async def test_invitations_to_one_address_count_toward_its_mail_limit(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, mail_server: MailServer
) -> None:
    owner = await make_owner(secure_app.state.db)
    await signed_in(browser_a, owner.email)
    invitee = new_email()
    limit = secure_app.state.settings.email_limit
    for _ in range(limit):
        assert (await invite(browser_a, invitee)).status_code == 201

    refused = await invite(browser_a, invitee)

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many messages were asked for this email address" in refused.text
    assert 'aria-invalid="true"' in refused.text
    mail_server.inbox.wait_for(invitee, limit)
    assert (await invite(browser_a, new_email())).status_code == 201  # other addresses go on


async def test_a_members_refused_invitations_use_up_no_ones_mail(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, mail_server: MailServer
) -> None:
    """An outside review: the address's mail limit was counted before the role check,
    so a member could block anyone's password-reset mail for an hour."""
    owner = await make_owner(secure_app.state.db)
    await signed_in(browser_a, owner.email)
    member_email, victim = new_email(), new_email()
    await invite(browser_a, member_email)
    link = path_of(link_in(mail_server.inbox.wait_for(member_email), "/invitations/"))
    async with asgi_client(secure_app, "203.0.113.42") as member:
        assert (await post_form(member, link, link, {"password": PASSWORD})).status_code == 303
        for _ in range(secure_app.state.settings.email_limit + 1):
            refused = await invite(member, victim)
            assert refused.status_code == 403  # a developer may not invite
            assert "Your role (Developer) cannot" in refused.text

    assert (await invite(browser_a, victim)).status_code == 201
    mail_server.inbox.wait_for(victim)


async def test_an_organisation_mails_a_bounded_number_of_invitations(
    settings: Settings, db: Database, mail_server: MailServer
) -> None:
    app = create_app(secure_settings(settings, mail_server, invitation_limit=2))
    async with app.router.lifespan_context(app), asgi_client(app) as owner_browser:
        owner = await make_owner(db)
        await signed_in(owner_browser, owner.email)
        for _ in range(2):
            assert (await invite(owner_browser, new_email())).status_code == 201

        refused = await invite(owner_browser, new_email())

        assert refused.status_code == 429
        assert "Too many invitations were sent from your organisation" in refused.text
        other = await make_owner(db)
        async with asgi_client(app, "203.0.113.43") as other_browser:
            await signed_in(other_browser, other.email)
            assert (await invite(other_browser, new_email())).status_code == 201
