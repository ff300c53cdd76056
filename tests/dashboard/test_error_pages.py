"""Error pages for people: a browser opening a missing page, or one that fails, gets a
page in the dashboard's layout; the API and clients that do not ask for HTML keep the
JSON answers. (The 404 page's accessibility: test_accessibility.py.)"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from relay.db import Database
from tests.accounts.helpers import make_owner, signed_in
from tests.conftest import asgi_client

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
NOT_FOUND = {"detail": "Not Found", "code": "not_found"}


async def test_a_browser_opening_a_missing_page_gets_a_page_with_the_way_on(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/no-such-page", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in answer.text
    assert "<title>Page not found · Relay</title>" in answer.text
    assert "<h1>Page not found</h1>" in answer.text
    assert '<a href="/">Back to Relay</a>' in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]


async def test_a_form_address_opened_in_a_browser_is_a_page_too(
    client: httpx.AsyncClient,
) -> None:
    # Revoking takes a POST; a GET of its address (a pasted link) is 405.
    answer = await client.get(
        "/settings/api-keys/00000000-0000-0000-0000-000000000000/revoke", headers=BROWSER
    )
    assert answer.status_code == 405
    assert "<h1>Page not found</h1>" in answer.text
    assert answer.headers["allow"] == "POST"


async def test_a_malformed_id_in_a_page_address_is_a_missing_page(
    db: Database, client: httpx.AsyncClient
) -> None:
    await signed_in(client, (await make_owner(db)).email)
    for path in ("/settings/api-keys/not-a-key-id", "/datasets/123"):
        answer = await client.get(path, headers=BROWSER)
        assert answer.status_code == 404, path
        assert "<h1>Page not found</h1>" in answer.text
        # A program asking for the same address keeps the validation answer.
        answer = await client.get(path)
        assert answer.status_code == 422
        assert answer.json()["code"] == "validation_error"


async def test_the_api_and_clients_that_do_not_ask_for_html_keep_json(
    client: httpx.AsyncClient,
) -> None:
    for path, headers in (
        ("/no-such-page", {}),
        ("/no-such-page", {"Accept": "application/json"}),
        ("/api/v1/no-such-route", BROWSER),
        ("/static/no-such-file.css", BROWSER),
    ):
        answer = await client.get(path, headers=headers)
        assert (answer.status_code, answer.json()) == (404, NOT_FOUND), path


async def test_a_page_that_fails_is_a_500_page_for_a_browser_and_json_for_the_api(
    app: FastAPI,
) -> None:
    async def fails() -> None:
        raise RuntimeError("a fault inside a page")

    # A route that fails as a page would on a bug; the handler is what is tested.
    app.add_api_route("/failing-page", fails)
    app.add_api_route("/api/v1/failing-route", fails)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/failing-page", headers=BROWSER)
        api = await client.get("/api/v1/failing-route", headers=BROWSER)
    assert page.status_code == 500
    assert "<h1>Something went wrong</h1>" in page.text
    # Sent from outside every middleware, it still carries the dashboard's headers.
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "a fault inside a page" not in page.text
    assert (api.status_code, api.json()) == (
        500,
        {"detail": "Internal server error", "code": "internal_error"},
    )
    async with asgi_client(app) as other:  # the app still answers
        assert (await other.get("/healthz")).status_code == 200
