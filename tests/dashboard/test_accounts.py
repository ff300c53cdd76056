"""Sign-up, sign-in, sessions, CSRF and sign-in limits, without a browser."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

import relay.dashboard
from relay.app import create_app
from relay.config import Settings
from relay.dashboard.models import WebSession
from relay.db import Database
from relay.tenants.models import Tenant, User
from tests.conftest import asgi_client
from tests.dashboard.helpers import (
    PASSWORD,
    csrf_of,
    new_email,
    post_form,
    sign_in,
    sign_up,
    signup_fields,
)

FOURTEEN_DAYS = 14 * 24 * 3600


async def test_sign_up_creates_a_tenant_signs_in_and_lands_on_api_keys(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    response = await sign_up(client, email)
    assert response.status_code == 303
    assert response.headers["location"] == "/settings/api-keys"

    page = await client.get("/settings/api-keys")
    assert page.status_code == 200
    assert email in page.text
    assert "No API keys yet. Create one to call the API." in page.text
    async with db.sessionmaker() as session:
        owner = await session.scalar(select(User).where(User.email == email))
    assert owner is not None
    assert owner.role == "owner"


async def test_session_cookie_is_httponly_lax_and_lasts_fourteen_days(
    client: httpx.AsyncClient,
) -> None:
    response = await sign_up(client)
    cookie = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("relay_session=")
    )
    flags = cookie.lower()
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert f"max-age={FOURTEEN_DAYS}" in flags
    assert "secure" not in flags


async def test_session_cookie_is_secure_when_configured(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cookie_secure": True}))
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        page = await client.get("/signup")
        token = csrf_of(page.text)
        # The CSRF cookie is Secure too, so send it by hand over plain HTTP.
        client.cookies.set("relay_csrf", token)
        response = await client.post(
            "/signup",
            data={"csrf_token": token} | signup_fields(),
        )
    cookie = next(
        v for v in response.headers.get_list("set-cookie") if v.startswith("relay_session=")
    )
    assert "secure" in cookie.lower()


async def test_session_token_is_stored_only_hashed(client: httpx.AsyncClient, db: Database) -> None:
    await sign_up(client)
    token = client.cookies["relay_session"]
    async with db.sessionmaker() as session:
        rows = repr((await session.execute(text("SELECT * FROM web_sessions"))).all())
    assert token not in rows


async def test_every_sign_in_gets_a_new_session_token(client: httpx.AsyncClient) -> None:
    email = new_email()
    await sign_up(client, email)
    first = client.cookies["relay_session"]
    await sign_in(client, email)
    second = client.cookies["relay_session"]
    assert first != second


async def test_sign_out_deletes_the_session(client: httpx.AsyncClient, db: Database) -> None:
    await sign_up(client)
    token = client.cookies["relay_session"]
    response = await post_form(client, "/settings/api-keys", "/logout", {})
    assert response.status_code == 303

    client.cookies.set("relay_session", token)  # an attacker who kept the old cookie
    page = await client.get("/settings/api-keys")
    assert page.status_code == 303
    assert page.headers["location"] == "/login"
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(WebSession)) == 0


async def test_pages_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    for path in ["/settings/api-keys", "/settings/members", "/datasets", "/datasets/new"]:
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


async def test_post_without_a_valid_csrf_token_is_403_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_up(client)
    for token in [None, "forged", csrf_of((await client.get("/settings/api-keys")).text) + "x"]:
        data = {"name": "Sneaky"} | ({"csrf_token": token} if token else {})
        response = await client.post("/settings/api-keys", data=data)
        assert response.status_code == 403
    page = await client.get("/settings/api-keys")
    assert "Sneaky" not in page.text


async def test_sign_up_without_csrf_creates_no_tenant(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post(
        "/signup", data={"organisation": "Acme", "email": new_email(), "password": PASSWORD}
    )
    assert response.status_code == 403
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 0


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()
    await sign_up(client, email)
    client.cookies.delete("relay_session")
    wrong_password = await sign_in(client, email, "not the password")
    unknown_email = await sign_in(client, new_email(), PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "Invalid email or password" in response.text


async def test_ten_failures_for_an_email_pause_sign_in_even_with_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()
    await sign_up(client, email)
    client.cookies.delete("relay_session")
    for _ in range(10):
        assert (await sign_in(client, email, "wrong password")).status_code == 401
    refused = await sign_in(client, email, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.text
    assert "relay_session" not in client.cookies


async def test_ten_failures_from_one_address_pause_it_but_not_others(app: FastAPI) -> None:
    async with (
        asgi_client(app, "203.0.113.7") as attacker,
        asgi_client(app, "198.51.100.2") as user,
    ):
        email = new_email()
        await sign_up(user, email)
        for _ in range(10):
            await sign_in(attacker, new_email(), "guess guess guess")
        assert (await sign_in(attacker, new_email(), "guess")).status_code == 429
        user.cookies.delete("relay_session")
        assert (await sign_in(user, email)).status_code == 303


async def test_sign_up_can_be_turned_off(settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"allow_signup": False}))
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        page = await client.get("/signup")
        assert page.status_code == 403
        assert "Sign-up is turned off" in page.text
        login_page = (await client.get("/login")).text
        assert "/signup" not in login_page
        token = csrf_of(login_page)
        refused = await client.post(
            "/signup",
            data={"csrf_token": token} | signup_fields(),
        )
    assert refused.status_code == 403
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 0


async def test_sign_up_errors_are_shown_and_nothing_is_half_created(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    await sign_up(client, email)
    client.cookies.delete("relay_session")
    taken = await sign_up(client, email)
    assert taken.status_code == 400
    assert "A user with this email already exists" in taken.text
    short = await post_form(
        client,
        "/signup",
        "/signup",
        {"organisation": "Beta", "email": new_email(), "password": "short"},
    )
    assert "Password must be at least 10 characters" in short.text
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 1


async def test_every_page_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for path in ["/login", "/signup", "/static/app.css"]:
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_templates_have_no_inline_script_or_style() -> None:
    # The CSP forbids them; this catches one before a browser silently ignores it.
    templates = Path(relay.dashboard.__file__).parent / "templates"
    for template in templates.glob("*.html"):
        html = template.read_text()
        assert " style=" not in html, template.name
        assert "<style" not in html, template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template.name
        assert not re.search(r"\son[a-z]+=", html), template.name


async def test_sign_up_with_a_nul_in_the_organisation_is_refused_cleanly(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await post_form(
        client, "/signup", "/signup", signup_fields() | {"organisation": "A\x00"}
    )
    assert response.status_code == 400
    assert "without control characters" in response.text
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 0
