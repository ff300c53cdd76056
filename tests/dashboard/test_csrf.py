"""CSRF: form tokens bound to the browser's session by an HMAC with the server's key,
new at every sign-in; unsafe requests from another site refused on every page."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from relay.app import create_app
from relay.config import Settings
from relay.db import Database
from relay.secret_key import derive
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email, sign_in, sign_up

KEYS_PAGE = "/settings/api-keys"
REFUSED = "did not come from Relay"


async def key_names(client: httpx.AsyncClient) -> list[str]:
    return re.findall(
        r'href="/settings/api-keys/[0-9a-f-]{36}">([^<]+)<', (await client.get(KEYS_PAGE)).text
    )


async def test_a_planted_cookie_and_token_pair_is_refused(client: httpx.AsyncClient) -> None:
    # The review's attack on double submit: plant a cookie, send the same value.
    await sign_up(client)
    client.cookies.set("relay_csrf", "planted")
    client.cookies.set("relay_presession", "planted")
    response = await client.post(
        KEYS_PAGE, data={"csrf_token": "planted", "name": "Attacker's key", "expiration": "none"}
    )
    assert response.status_code == 403
    assert await key_names(client) == []


async def test_a_token_works_for_its_own_session_only(app: FastAPI) -> None:
    async with asgi_client(app) as alice, asgi_client(app) as mallory:
        await sign_up(alice)
        await sign_up(mallory)
        malloys_token = csrf_of((await mallory.get(KEYS_PAGE)).text)
        forged = await alice.post(
            KEYS_PAGE, data={"csrf_token": malloys_token, "name": "x", "expiration": "none"}
        )
        assert forged.status_code == 403
        own = csrf_of((await alice.get(KEYS_PAGE)).text)
        made = await alice.post(
            KEYS_PAGE, data={"csrf_token": own, "name": "x", "expiration": "none"}
        )
        assert made.status_code == 201


async def test_the_token_changes_at_sign_in(client: httpx.AsyncClient) -> None:
    email = new_email()
    await sign_up(client, email)
    client.cookies.clear()
    before = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"csrf_token": before, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303
    after = csrf_of((await client.get(KEYS_PAGE)).text)
    assert after != before
    stale = await client.post(
        KEYS_PAGE, data={"csrf_token": before, "name": "x", "expiration": "none"}
    )
    assert stale.status_code == 403
    # Signed out and in again: another session, another token.
    client.cookies.clear()
    await sign_in(client, email)
    assert csrf_of((await client.get(KEYS_PAGE)).text) not in (before, after)


async def test_requests_a_browser_marks_as_cross_site_are_refused(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)
    token = csrf_of((await client.get(KEYS_PAGE)).text)
    form = {"csrf_token": token, "name": "x", "expiration": "none"}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:8000"},
    ):
        response = await client.post(KEYS_PAGE, data=form, headers=headers)
        assert response.status_code == 403, headers
        assert REFUSED in response.text
    assert await key_names(client) == []
    for headers in (
        {"Origin": "http://127.0.0.1:8000"},  # RELAY_PUBLIC_URL
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},  # the Host asked
        {},  # a client that sends neither header: the token alone decides
    ):
        assert (await client.post(KEYS_PAGE, data=form, headers=headers)).status_code == 201


async def test_every_unsafe_dashboard_route_refuses_other_sites(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Generated from the route table: a page added later is covered too.
    await sign_up(client)
    token = csrf_of((await client.get(KEYS_PAGE)).text)
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if not isinstance(route, APIRoute) or path.startswith(("/api/", "/metrics")):
            continue
        for method in (context.methods or set()) - {"GET", "HEAD", "OPTIONS"}:
            url = re.sub(r"{\w+}", "00000000-0000-4000-8000-000000000000", path)
            response = await client.request(
                method, url, data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
            )
            assert response.status_code == 403, f"{method} {path}"
            checked += 1
    assert checked >= 10


async def test_workers_share_the_key_so_a_form_from_one_posts_to_another(
    app: FastAPI, settings: Settings
) -> None:
    # No RELAY_SECRET_KEY: the first worker makes one and keeps it in the database.
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        assert other.state.csrf_key == app.state.csrf_key
        async with asgi_client(app) as first, asgi_client(other) as second:
            await sign_up(first)
            second.cookies = first.cookies
            token = csrf_of((await first.get(KEYS_PAGE)).text)
            made = await second.post(
                KEYS_PAGE, data={"csrf_token": token, "name": "x", "expiration": "none"}
            )
            assert made.status_code == 201


async def test_a_configured_secret_key_is_used(settings: Settings, db: Database) -> None:
    configured = create_app(settings.model_copy(update={"secret_key": "k" * 43}))
    async with configured.router.lifespan_context(configured):
        assert configured.state.csrf_key == derive(b"k" * 43, "csrf")
