"""Driving the account pages over HTTP: sign-ups straight to a user, two-factor set-up
with codes computed from the secret the page shows."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass

import httpx
import pyotp
from sqlalchemy import select

from relay.audit.models import AuditEvent
from relay.db import Database
from relay.tenants import service as tenants_service
from relay.tenants.models import User
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, post_form

SETUP = "/settings/account/two-factor"
ACCOUNT = "/settings/account"


async def make_owner(db: Database, email: str | None = None) -> User:
    """A tenant and its owner, created as the CLI does (no mail, no page)."""
    async with db.sessionmaker.begin() as session:
        _tenant, owner = await tenants_service.create_tenant(
            session, name="Acme", email=email or new_email(), password=PASSWORD
        )
        return owner


async def user_of(db: Database, email: str) -> User:
    async with db.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.email == email.lower()))
    assert user is not None
    return user


async def signed_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
    response = await post_form(client, "/login", "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/settings/api-keys"


@dataclass(frozen=True)
class TwoFactorOn:
    secret: str
    recovery_codes: list[str]

    def code(self, at: float | None = None) -> str:
        return pyotp.TOTP(self.secret).at(int(time.time() if at is None else at))

    def next_code(self) -> str:
        """The code of the next 30-second step: accepted now (one step of drift), and
        never the same step as a code given just before (no replay)."""
        return self.code(time.time() + 30)

    def previous_code(self) -> str:
        return self.code(time.time() - 30)


def shown_secret(page: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert found, "the set-up page shows no secret"
    return found.group(1).replace(" ", "")


def sealed_setup(page: str) -> str:
    found = re.search(r'name="setup" value="([^"]+)"', page)
    assert found
    return html.unescape(found.group(1))


def shown_recovery_codes(page: str) -> list[str]:
    found = re.search(r'id="recovery-codes">([^<]*)</pre>', page)
    assert found, "no recovery codes on the page"
    return found.group(1).split()


async def turn_on_two_factor(client: httpx.AsyncClient) -> TwoFactorOn:
    """Set up two-factor sign-in as a person would: read the secret off the page, type
    the app's code."""
    page = (await client.get(SETUP)).text
    secret = shown_secret(page)
    response = await post_form(
        client,
        SETUP,
        SETUP,
        {"password": PASSWORD, "setup": sealed_setup(page), "code": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 201, response.text
    return TwoFactorOn(secret, shown_recovery_codes(response.text))


async def password_step(client: httpx.AsyncClient, email: str) -> httpx.Response:
    """Sign in with the password of an account with two-factor on: not signed in yet."""
    response = await post_form(client, "/login", "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == "/login/two-factor"
    return response


async def code_step(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await post_form(client, "/login/two-factor", "/login/two-factor", {"code": code})


async def actions_of(db: Database, user: User) -> list[str]:
    """The audit actions about `user` (or their tenant), oldest first."""
    async with db.sessionmaker() as session:
        query = (
            select(AuditEvent.action)
            .where(AuditEvent.tenant_id == user.tenant_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return list((await session.scalars(query)).all())


async def owner_with_two_factor(
    db: Database, client: httpx.AsyncClient
) -> tuple[User, TwoFactorOn]:
    """A new owner, signed in with `client`, who turned two-factor sign-in on there."""
    owner = await make_owner(db)
    await signed_in(client, owner.email)
    return owner, await turn_on_two_factor(client)


def path_of(link: str) -> str:
    """The path of an absolute link (they start with RELAY_PUBLIC_URL)."""
    return "/" + link.split("/", 3)[3]


def page_without(response: httpx.Response, email: str) -> str:
    """The page, without what differs between two answers for two emails: the email
    itself and the form token."""
    page = response.text.replace(email, "EMAIL")
    return page.replace(csrf_of(page), "TOKEN") if 'name="csrf_token"' in page else page
