"""A pending invitation's link again: "New link" shows the owner a fresh one (without
mail), "Send again" mails it to the invited address alone (with mail). Either way the
previous link stops working at once and the new one works for 7 days."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from relay.app import create_app
from relay.audit.models import AuditEvent
from relay.config import Settings
from relay.dashboard.permissions import refusal
from relay.db import Database, utcnow
from relay.tenants.members import INVITATION_NOT_PENDING
from relay.tenants.models import Invitation
from tests.accounts.conftest import secure_settings
from tests.accounts.helpers import make_owner, path_of, signed_in
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, new_email, post_form, sign_up
from tests.mail_server import MailServer, body_of, link_in

MEMBERS = "/settings/members"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/invitations/[A-Za-z0-9_-]+)")
RENEWED = "member.invitation_renewed"


def error_flash(message: str) -> str:
    return f'<p class="flash flash-error" role="alert" data-announce>{message}</p>'


async def invite(owner: httpx.AsyncClient, email: str) -> httpx.Response:
    return await post_form(owner, MEMBERS, MEMBERS, {"email": email})


def shown_link(page: httpx.Response) -> str:
    match = LINK.search(page.text)
    assert match is not None, "no invitation link on the page"
    return match.group(1)


async def renew_action(owner: httpx.AsyncClient, email: str) -> str:
    """The action of the "New link" (or "Send again") button of `email`'s invitation."""
    page = (await owner.get(MEMBERS)).text
    pattern = (
        r'action="(/settings/members/invitations/[0-9a-f-]+/renew)"[^<]*<input[^>]*>\s*'
        rf'<button[^>]*>[^<]*<span class="visually-hidden">[^<]*{re.escape(email)}<'
    )
    match = re.search(pattern, page)
    assert match is not None, f"no renew button for the invitation of {email}"
    return match.group(1)


async def renew(client: httpx.AsyncClient, action: str) -> httpx.Response:
    return await post_form(client, MEMBERS, action, {})


async def invitation_of(db: Database, email: str) -> Invitation:
    async with db.sessionmaker() as session:
        invitation = await session.scalar(select(Invitation).where(Invitation.email == email))
    assert invitation is not None
    return invitation


async def renewals(db: Database) -> list[AuditEvent]:
    async with db.sessionmaker() as session:
        query = select(AuditEvent).where(AuditEvent.action == RENEWED)
        return list((await session.scalars(query)).all())


async def signed_up_with_invitation(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """Sign up and invite a new address (no mail): the address, its link and the action
    of its "New link" button."""
    await sign_up(client)
    email = new_email()
    link = shown_link(await invite(client, email))
    return email, link, await renew_action(client, email)


async def opens(app: FastAPI, link: str) -> bool:
    async with asgi_client(app, "203.0.113.60") as invitee:
        status = (await invitee.get(link)).status_code
    assert status in (200, 404)
    return status == 200


async def test_a_new_link_works_and_the_previous_one_no_longer_does(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    email, first, action = await signed_up_with_invitation(client)
    before = await invitation_of(db, email)
    assert "New link<span" in (await client.get(MEMBERS)).text

    renewed = await renew(client, action)

    assert renewed.status_code == 200
    assert renewed.headers["cache-control"] == "no-store"
    second = shown_link(renewed)
    assert second != first
    notice = renewed.text.split('<section class="card notice"')[1].split("</section>")[0]
    assert "data-announce" in notice
    assert "New invitation link" in notice
    assert f"Send this link to <strong>{email}</strong>" in notice
    assert "The previous link no longer works." in notice
    assert second not in (await client.get(MEMBERS)).text  # shown once
    assert not await opens(app, first)
    assert await opens(app, second)
    after = await invitation_of(db, email)
    assert after.id == before.id  # the same invitation, still one
    assert after.expires_at > before.expires_at  # its 7 days start again
    assert after.expires_at - utcnow() > timedelta(days=7) - timedelta(minutes=5)
    async with asgi_client(app, "203.0.113.61") as member:
        assert (await post_form(member, second, second, {"password": PASSWORD})).status_code == 303


async def test_the_renewal_is_audited_and_its_token_is_stored_only_hashed(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner_email = new_email()
    await sign_up(client, owner_email)
    email = new_email()
    await invite(client, email)
    token = shown_link(await renew(client, await renew_action(client, email))).rsplit("/", 1)[1]

    [event] = await renewals(db)
    invitation = await invitation_of(db, email)
    assert event.tenant_id == invitation.tenant_id
    assert event.actor == f"user:{owner_email}"
    assert (event.target_type, event.target_id) == ("invitation", str(invitation.id))
    assert event.target_name == email
    async with db.sessionmaker() as session:
        rows = repr((await session.execute(text("SELECT * FROM invitations"))).all())
        rows += repr((await session.execute(text("SELECT * FROM audit_events"))).all())
    assert email in rows  # the rows scanned are the right ones
    assert token not in rows


async def test_another_tenants_invitation_is_refused_and_left_as_it_was(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    email, link, action = await signed_up_with_invitation(client)
    before = await invitation_of(db, email)

    async with asgi_client(app, "198.51.100.62") as stranger:
        await sign_up(stranger)
        refused = await renew(stranger, action)
        assert refused.status_code == 303
        assert refused.headers["location"] == MEMBERS
        page = (await stranger.get(MEMBERS)).text
        assert error_flash(INVITATION_NOT_PENDING) in page
        assert not LINK.search(page)

    after = await invitation_of(db, email)
    assert (after.token_hash, after.expires_at) == (before.token_hash, before.expires_at)
    assert await renewals(db) == []
    assert await opens(app, link)


async def test_a_developer_cannot_renew_an_invitation(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    _email, link, action = await signed_up_with_invitation(client)
    member_link = shown_link(await invite(client, new_email()))
    async with asgi_client(app, "198.51.100.63") as member:
        await post_form(member, member_link, member_link, {"password": PASSWORD})
        assert "/renew" not in (await member.get(MEMBERS)).text  # no button to a member
        refused = await renew(member, action)  # a developer, the role invited by default
        assert refused.status_code == 403
        assert html.escape(refusal("developer", "members")) in refused.text
    assert await renewals(db) == []
    assert await opens(app, link)


async def test_an_invitation_no_longer_pending_is_refused_with_a_message(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    """A page left open while the invitation was cancelled, accepted or expired."""
    await sign_up(client)
    cancelled, accepted, expired = new_email(), new_email(), new_email()
    await invite(client, cancelled)
    await invite(client, expired)
    accept_link = shown_link(await invite(client, accepted))
    actions = [await renew_action(client, email) for email in (cancelled, accepted, expired)]
    page = (await client.get(MEMBERS)).text
    cancel = re.search(r'action="([^"]+/cancel)"[^<]*<input[^>]*>\s*<button[^>]*>Cancel<span'
                       rf"[^>]*> the invitation for {re.escape(cancelled)}<", page)  # fmt: skip
    assert cancel is not None
    assert (await post_form(client, MEMBERS, cancel.group(1), {})).status_code == 303
    async with asgi_client(app, "198.51.100.64") as member:
        joined = await post_form(member, accept_link, accept_link, {"password": PASSWORD})
        assert joined.status_code == 303
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.email == expired)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    for action in actions:
        refused = await renew(client, action)
        assert refused.status_code == 303
        assert error_flash(INVITATION_NOT_PENDING) in (await client.get(MEMBERS)).text
    assert await renewals(db) == []


async def test_a_renewal_without_the_forms_token_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    email, _link, action = await signed_up_with_invitation(client)
    before = await invitation_of(db, email)

    refused = await client.post(action, data={})

    assert refused.status_code == 403
    assert (await invitation_of(db, email)).token_hash == before.token_hash


@pytest.fixture
async def mail_app(
    settings: Settings, db: Database, mail_server: MailServer
) -> AsyncIterator[FastAPI]:
    """The app with mail, and a small organisation invitation limit (3 a window)."""
    app = create_app(secure_settings(settings, mail_server, invitation_limit=3))
    async with app.router.lifespan_context(app):
        yield app


@dataclass(frozen=True)
class MailedInvitation:
    browser: httpx.AsyncClient
    owner_email: str
    email: str
    renew_action: str


@pytest.fixture
async def mailed_invitation(mail_app: FastAPI, db: Database) -> AsyncIterator[MailedInvitation]:
    """An owner signed in on the app with mail, who has invited a new address."""
    owner = await make_owner(db)
    email = new_email()
    async with asgi_client(mail_app, "198.51.100.65") as browser:
        await signed_in(browser, owner.email)
        await invite(browser, email)
        yield MailedInvitation(browser, owner.email, email, await renew_action(browser, email))


async def test_send_again_mails_a_new_link_to_the_invited_address_alone(
    mail_app: FastAPI, db: Database, mail_server: MailServer, mailed_invitation: MailedInvitation
) -> None:
    browser, email = mailed_invitation.browser, mailed_invitation.email
    first = path_of(link_in(mail_server.inbox.wait_for(email), "/invitations/"))
    assert "Send again<span" in (await browser.get(MEMBERS)).text

    sent = await renew(browser, mailed_invitation.renew_action)

    assert sent.status_code == 200
    assert "127.0.0.1:8000/invitations/" not in sent.text  # never shown to the owner
    notice = sent.text.split('id="invite-created">')[1].split("</section>")[0]
    assert f"A new invitation link is on its way to <strong>{email}</strong>" in notice
    assert "The previous link no longer works." in notice
    mail = mail_server.inbox.wait_for(email, 2)
    second = path_of(link_in(mail, "/invitations/"))
    assert second != first
    assert mailed_invitation.owner_email in body_of(mail)
    assert "no longer works" in body_of(mail)
    assert not await opens(mail_app, first)
    assert [event.target_name for event in await renewals(db)] == [email]
    async with asgi_client(mail_app, "203.0.113.66") as member:
        assert (await post_form(member, second, second, {"password": PASSWORD})).status_code == 303


async def test_sending_again_counts_toward_the_organisations_invitation_limit(
    mail_app: FastAPI, db: Database, mail_server: MailServer, mailed_invitation: MailedInvitation
) -> None:
    browser, email = mailed_invitation.browser, mailed_invitation.email
    for _ in range(2):
        assert (await renew(browser, mailed_invitation.renew_action)).status_code == 200
    latest = path_of(link_in(mail_server.inbox.wait_for(email, 3), "/invitations/"))

    refused = await renew(browser, mailed_invitation.renew_action)

    assert refused.status_code == 303
    page = (await browser.get(MEMBERS)).text
    assert "Too many invitations were sent from your organisation" in page
    assert await opens(mail_app, latest)  # the link last mailed still works
    assert len(await renewals(db)) == 2
    assert len(mail_server.inbox.to(email)) == 3
