"""The owner requires two-factor sign-in of every member: a member without it is sent
to the set-up page from every page, and can do nothing else until it is on. Other
tenants are not concerned."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from relay.db import Database
from relay.tenants.models import User
from tests.accounts.helpers import (
    ACCOUNT,
    SETUP,
    actions_of,
    make_owner,
    owner_with_two_factor,
    path_of,
    signed_in,
    turn_on_two_factor,
)
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, post_form
from tests.mail_server import MailServer, link_in

MEMBERS = "/settings/members"
REQUIRE = "/settings/members/two-factor"


async def invite(
    owner: httpx.AsyncClient, member: httpx.AsyncClient, mail_server: MailServer
) -> str:
    """A new member of the owner's tenant, who joined on `member` by the mailed link."""
    email = new_email()
    sent = await post_form(owner, MEMBERS, MEMBERS, {"email": email})
    assert sent.status_code == 201
    link = path_of(link_in(mail_server.inbox.wait_for(email), "/invitations/"))
    joined = await post_form(member, link, link, {"password": PASSWORD})
    assert joined.status_code == 303
    return email


async def strict_owner(db: Database, browser: httpx.AsyncClient) -> User:
    """An owner, signed in with `browser`, whose tenant requires two-factor sign-in."""
    owner, _ = await owner_with_two_factor(db, browser)
    required = await post_form(
        browser, MEMBERS, REQUIRE, {"require_two_factor": "on", "password": PASSWORD}
    )
    assert required.status_code == 303
    return owner


async def test_a_member_without_two_factor_can_only_set_it_up(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    async with asgi_client(secure_app) as member:
        await invite(browser_a, member, mail_server)
        await turn_on_two_factor(browser_a)
        required = await post_form(
            browser_a, MEMBERS, REQUIRE, {"require_two_factor": "on", "password": PASSWORD}
        )
        assert required.status_code == 303
        page = (await browser_a.get(MEMBERS)).text
        assert "Every member now signs in with a second factor" in page
        assert " checked" in page

        # Every page, read or write, sends the member to the set-up; nothing happens.
        for path in ("/settings/api-keys", "/datasets", MEMBERS, ACCOUNT, "/"):
            answer = await member.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] in (SETUP, "/settings/api-keys")
        made = await post_form(
            member, SETUP, "/settings/api-keys", {"name": "sneaky", "expiration": "none"}
        )
        assert made.headers["location"] == SETUP
        setup = await member.get(SETUP)
        assert setup.status_code == 200
        assert "Your organisation requires two-factor sign-in" in setup.text
        # Signing out still works.
        out = await post_form(member, SETUP, "/logout", {})
        assert out.headers["location"] == "/login"
        assert (await member.get(SETUP)).headers["location"] == "/login"


async def test_once_set_up_the_member_gets_everything(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await strict_owner(db, browser_a)
    async with asgi_client(secure_app) as member:
        email = await invite(browser_a, member, mail_server)
        without = (await browser_a.get(MEMBERS)).text
        assert f"1 of 2 members have it on. Without it: {email}." in without
        assert (await member.get("/settings/api-keys")).headers["location"] == SETUP
        await turn_on_two_factor(member)
        assert (await member.get("/settings/api-keys")).status_code == 200
        # While it is required, the member cannot turn it off.
        refused = await post_form(
            member, ACCOUNT, f"{SETUP}/disable", {"password": PASSWORD, "code": "123456"}
        )
        assert refused.status_code == 409
        assert "requires two-factor sign-in" in refused.text
    assert "2 of 2 members have it on." in (await browser_a.get(MEMBERS)).text
    assert "tenant.two_factor_required" in await actions_of(db, owner)


async def test_lifting_the_requirement_needs_the_owners_password(
    browser_a: httpx.AsyncClient, db: Database
) -> None:
    owner = await strict_owner(db, browser_a)
    lifted = await post_form(
        browser_a, MEMBERS, REQUIRE, {"require_two_factor": "off", "password": "not it at all"}
    )
    assert lifted.status_code in (400, 401)
    assert 'id="require-two-factor-password-error"' in lifted.text
    assert "tenant.two_factor_not_required" not in await actions_of(db, owner)
    assert "Two-factor sign-in is no longer required" not in lifted.text


async def test_the_owner_must_have_it_first_and_only_the_owner_decides(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await make_owner(db)
    await signed_in(browser_a, owner.email)
    refused = await post_form(
        browser_a, MEMBERS, REQUIRE, {"require_two_factor": "on", "password": PASSWORD}
    )
    assert refused.status_code == 409
    assert 'id="require-two-factor-error"' in refused.text
    assert "Turn on two-factor sign-in for your own account" in refused.text
    async with asgi_client(secure_app) as member:
        await invite(browser_a, member, mail_server)
        await turn_on_two_factor(member)
        by_member = await post_form(
            member, ACCOUNT, REQUIRE, {"require_two_factor": "on", "password": PASSWORD}
        )
        assert by_member.status_code == 403  # a developer: not a policy of theirs
        assert "Your role (Developer) cannot" in by_member.text
    assert "tenant.two_factor_required" not in await actions_of(db, owner)


async def test_another_tenants_requirement_does_not_reach_this_one(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    strict, relaxed = await make_owner(db), await make_owner(db)
    await signed_in(browser_a, strict.email)
    await turn_on_two_factor(browser_a)
    await post_form(browser_a, MEMBERS, REQUIRE, {"require_two_factor": "on", "password": PASSWORD})
    async with asgi_client(secure_app) as other_owner, asgi_client(secure_app) as member:
        await signed_in(other_owner, relaxed.email)
        await invite(other_owner, member, mail_server)
        assert (await member.get("/settings/api-keys")).status_code == 200
        assert (await other_owner.get("/settings/api-keys")).status_code == 200


async def test_lifting_the_requirement_frees_members_without_it(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    owner = await strict_owner(db, browser_a)
    async with asgi_client(secure_app) as member:
        await invite(browser_a, member, mail_server)
        assert (await member.get("/datasets")).headers["location"] == SETUP
        lifted = await post_form(browser_a, MEMBERS, REQUIRE, {"password": PASSWORD})
        assert lifted.status_code == 303
        assert (await member.get("/datasets")).status_code == 200
    assert "tenant.two_factor_not_required" in await actions_of(db, owner)


async def test_every_page_behind_sign_in_sends_such_a_member_to_the_set_up(
    secure_app: FastAPI, browser_a: httpx.AsyncClient, db: Database, mail_server: MailServer
) -> None:
    # Generated from the route table: a page added later is covered too, since the
    # check sits where every page gets its signed-in user.
    await strict_owner(db, browser_a)
    async with asgi_client(secure_app) as member:
        await invite(browser_a, member, mail_server)
        token = csrf_of((await member.get(SETUP)).text)
        checked = 0
        for context in iter_route_contexts(secure_app.routes):
            path = context.path or ""
            if (
                not isinstance(context.original_route, APIRoute)
                or not path.startswith(("/settings/", "/datasets"))
                or path.startswith(SETUP)
            ):
                continue
            url = re.sub(r"{\w+}", "00000000-0000-4000-8000-000000000000", path)
            for method in (context.methods or set()) - {"HEAD"}:
                answer = await member.request(method, url, data={"csrf_token": token})
                assert answer.status_code == 303, f"{method} {path}"
                assert answer.headers["location"] == SETUP, f"{method} {path}"
                checked += 1
        assert checked >= 20
