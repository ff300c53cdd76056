"""Dashboard plumbing: templates, cookies, CSRF, the signed-in user, flash messages."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.responses import Response

from relay import clients
from relay.actors import Actor, clean_user_agent
from relay.config import Settings
from relay.dashboard import sessions
from relay.db import SessionDep
from relay.errors import RelayError
from relay.tenants.models import User

SESSION_COOKIE = "relay_session"
CSRF_COOKIE = "relay_csrf"
FLASH_COOKIE = "relay_flash"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(value: datetime | None, never: str = "Never") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else never


templates.env.filters["when"] = _when


class CsrfRefused(RelayError):
    status_code = 403


class SignInRequired(Exception):
    """Raised by pages that need a user; answered with a redirect to /login."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    return clients.client_address(request, settings_of(request).trusted_proxies)


def user_actor(request: Request, user: User) -> Actor:
    """The signed-in user as the actor of what the page does (for the audit log)."""
    return Actor.user(
        user.email,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )


def anonymous_actor(request: Request) -> Actor:
    """Someone not signed in (a failed sign-in), known by address and browser only."""
    return Actor(
        "anonymous",
        client_address=client_address(request),
        user_agent=clean_user_agent(request.headers.get("user-agent")),
    )


def _csrf_token(request: Request) -> str:
    """The token this browser's forms carry: its CSRF cookie, or a new one."""
    token = getattr(request.state, "csrf_token", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    return str(token)


def set_cookie(request: Request, response: Response, name: str, value: str, **options: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).cookie_secure,
        path="/",
        **options,
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: User | None = None,
    no_store: bool = False,
) -> HTMLResponse:
    """A page, with the CSRF token its forms need and any flash message to show."""
    csrf_token = _csrf_token(request)
    flash = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(
        request,
        template,
        {"user": user, "csrf_token": csrf_token, "flash": unquote(flash) if flash else None}
        | (context or {}),
        status_code=status_code,
    )
    if request.cookies.get(CSRF_COOKIE) != csrf_token:
        set_cookie(request, response, CSRF_COOKIE, csrf_token)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


def redirect(request: Request, url: str, *, flash: str | None = None) -> RedirectResponse:
    """303 to `url` (after a POST), optionally carrying a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        set_cookie(request, response, FLASH_COOKIE, quote(flash), max_age=60)
    return response


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after checking its CSRF token against the browser's cookie."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.cookies.get(CSRF_COOKIE)
    if not (isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)):
        raise CsrfRefused("This form has expired or did not come from Relay. Reload and retry.")
    return form


async def current_user(request: Request, session: SessionDep) -> User:
    """The signed-in user, or a redirect to /login."""
    user = await sessions.user_for_token(session, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise SignInRequired
    return user


CheckedForm = Annotated[FormData, Depends(checked_form)]
CurrentUser = Annotated[User, Depends(current_user)]


def field(form: FormData, name: str) -> str:
    """A text field of the form, '' when absent or not text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
