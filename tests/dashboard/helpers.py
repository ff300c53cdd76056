"""Driving the dashboard over HTTP like a browser without JavaScript would."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: Mapping[str, str | list[str]]
) -> httpx.Response:
    """Load `page`, then submit a form to `action` with the page's CSRF token."""
    token = csrf_of((await client.get(page)).text)
    return await client.post(action, data={"csrf_token": token, **data})


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def signup_fields(email: str | None = None) -> dict[str, str]:
    return {"organisation": "Acme", "email": email or new_email(), "password": PASSWORD}


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> httpx.Response:
    return await post_form(client, "/signup", "/signup", signup_fields(email))


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await post_form(client, "/login", "/login", {"email": email, "password": password})


Result = TypeVar("Result")


def run_beside_playwright(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """Run `coroutine` to its end on an event loop of its own, in a thread of its own: a
    browser test's thread runs Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
