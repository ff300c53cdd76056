"""Dashboard plumbing: templates, cookies, forms and their CSRF tokens, the signed-in
user (and what the tenant requires of them), flash messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.background import BackgroundTasks
from starlette.datastructures import FormData
from starlette.responses import Response

from relay import clients
from relay.accounts import devices, sessions
from relay.accounts.notices import security_notice
from relay.accounts.sessions import SignedIn
from relay.actors import Actor, clean_user_agent
from relay.audit.actions import Action
from relay.config import Settings
from relay.dashboard.csrf import (
    FORM_EXPIRED,
    SAFE_METHODS,
    CsrfRefused,
    form_token,
    token_matches,
)
from relay.db import SessionDep, utcnow
from relay.errors import RelayError
from relay.leaks import service as leaks_service
from relay.links import public_url
from relay.mail import mailer_for
from relay.notices import service as notices_service
from relay.tenants import roles
from relay.tenants.models import User
from relay.text import storable
from relay.tokens import new_token

# Cookie names; with RELAY_COOKIE_SECURE they get the __Host- prefix, which browsers
# only accept from a secure origin, for the whole site and no other domain: a
# neighbouring subdomain cannot plant one.
SESSION_COOKIE = "relay_session"
PRESESSION_COOKIE = "relay_presession"
FLASH_COOKIE = "relay_flash"
# Before a flash message that says what could not be done (redirect's `error`).
_ERROR_MARK = "error:"
PENDING_SIGN_IN_COOKIE = "relay_pending_sign_in"
DEVICE_COOKIE = "relay_device"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def when(value: datetime | None, never: str = "Never") -> str:
    """A moment as every page says it: "2026-12-08 00:00 UTC"."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else never


def day(value: datetime | None, never: str = "Never") -> Markup | str:
    """A moment as a table cell says it: its day, with the minute in `when`'s words in
    the element's title and datetime (the row's own page says it in full)."""
    if value is None:
        return never
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.strftime("%Y-%m-%dT%H:%MZ"), when(value), value.strftime("%Y-%m-%d")
    )


templates.env.filters["when"] = when
templates.env.filters["day"] = day


UNUSABLE_FORM = (
    "This form holds characters Relay cannot store (such as NUL). Remove them and retry."
)
UNSTORABLE_FIELD = "A field of this form cannot be stored:"


class UnusableForm(RelayError):
    status_code = 400
    code = "bad_request"


class SignInRequired(Exception):
    """Raised by pages that need a user; answered with a redirect to /login."""


class TwoFactorSetupRequired(Exception):
    """The tenant requires two-factor sign-in and this user has not set it up: every
    page but the set-up answers with a redirect to it."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    return clients.client_address(request, settings_of(request).trusted_proxies)


def with_security_notice(
    request: Request, response: Response, user: User, action: Action
) -> Response:
    """`response`, which mails `user` a notice of `action` once it is sent (when mail
    is configured; see relay.accounts.notices)."""
    settings = settings_of(request)
    mailer = mailer_for(settings)
    if mailer is None:
        return response
    notice = security_notice(
        action,
        email=user.email,
        at=utcnow(),
        client_address=client_address(request),
        reset_link=public_url(settings, "/forgot-password"),
    )
    tasks = BackgroundTasks()
    if response.background is not None:
        tasks.add_task(response.background)
    tasks.add_task(mailer.deliver, notice)
    response.background = tasks
    return response


def user_actor(request: Request, user: User) -> Actor:
    """The signed-in user as the actor of what the page does (for the audit log)."""
    return roles.member_actor(
        user.email,
        user.role,
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


def cookie_name(request: Request, name: str) -> str:
    return f"__Host-{name}" if settings_of(request).cookie_secure else name


def session_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request, SESSION_COOKIE))


def _csrf_binding(request: Request) -> str | None:
    """What this browser's form tokens are bound to: its session, else its pre-session."""
    token = session_token(request)
    if token:
        return f"session:{token}"
    presession = getattr(request.state, "presession", None) or request.cookies.get(
        cookie_name(request, PRESESSION_COOKIE)
    )
    return f"presession:{presession}" if presession else None


def _form_token(request: Request) -> str:
    """The CSRF token of this browser's forms; a pre-session starts here if needed."""
    binding = _csrf_binding(request)
    if binding is None:
        request.state.presession = new_token()
        binding = f"presession:{request.state.presession}"
    return form_token(request.app.state.csrf_key, binding)


def set_cookie(request: Request, response: Response, name: str, value: str, **options: Any) -> None:
    response.set_cookie(
        cookie_name(request, name),
        value,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).cookie_secure,
        path="/",
        **options,
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name), path="/", secure=settings_of(request).cookie_secure
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: User | None = None,
    no_store: bool = False,
    refused: RelayError | None = None,
) -> HTMLResponse:
    """A page, with the CSRF token its forms need and any flash message to show; a form
    sent back because of `refused` gets its status and headers (Retry-After)."""
    csrf_token = _form_token(request)
    flash = request.cookies.get(cookie_name(request, FLASH_COOKIE))
    message = unquote(flash) if flash else None
    failed = message is not None and message.startswith(_ERROR_MARK)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": csrf_token,
            "flash": message[len(_ERROR_MARK) :] if message and failed else message,
            "flash_error": failed,
            "leak_notices": getattr(request.state, "leak_notices", []),
            "key_notices": getattr(request.state, "key_notices", []),
            # What the member's role allows, for pages to offer only that (the pages
            # themselves refuse the rest: relay.dashboard.permissions).
            "can": (lambda permission: user is not None and roles.may(user.role, permission)),
        }
        | (context or {}),
        status_code=refused.status_code if refused else status_code,
        headers=refused.headers if refused else None,
    )
    presession = getattr(request.state, "presession", None)
    if presession:
        set_cookie(request, response, PRESESSION_COOKIE, presession)
    if flash:
        delete_cookie(request, response, FLASH_COOKIE)
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


def redirect(
    request: Request, url: str, *, flash: str | None = None, error: str | None = None
) -> RedirectResponse:
    """303 to `url` (after a POST), optionally carrying a message for the next page:
    `flash` says what was done, `error` what could not be (shown as an error, and
    announced at once)."""
    response = RedirectResponse(url, status_code=303)
    message = f"{_ERROR_MARK}{error}" if error else flash
    if message:
        set_cookie(request, response, FLASH_COOKIE, quote(message), max_age=60)
    return response


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after checking that its CSRF token is this browser's session's."""
    form = await request.form()
    if not token_matches(request.app.state.csrf_key, _csrf_binding(request), form.get(CSRF_FIELD)):
        raise CsrfRefused(FORM_EXPIRED)
    for _name, value in form.multi_items():
        # Checked for every value of every field of every page (a repeated field's too),
        # so that no service meets such text.
        if isinstance(value, str) and not storable(value):
            raise UnusableForm(UNUSABLE_FORM)
    return form


async def signed_in(request: Request, session: SessionDep) -> SignedIn:
    """The browser's session, or a redirect to /login; whatever the tenant requires
    (only the two-factor set-up pages take it as it is)."""
    if request.method not in SAFE_METHODS:
        # The whole body first (Starlette keeps it for the form): looking the session
        # up takes a connection, on SQLite the write lock, which a client sending its
        # body slowly must not hold (an outside review: 503s for every write).
        await request.body()
    signed = await sessions.resolve(
        session, token=session_token(request), client_address=client_address(request)
    )
    if signed is None:
        raise SignInRequired
    # Every page shows the tenant's leaked-key notices until someone dismisses them.
    request.state.leak_notices = await leaks_service.open_notices(
        session, tenant_id=signed.user.tenant_id
    )
    # And its notices of keys about to expire or out of quota (mailed too, with mail).
    request.state.key_notices = await notices_service.open_notices(
        session, tenant_id=signed.user.tenant_id
    )
    return signed


async def current_sign_in(signed: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    """The browser's session, once its user meets what the tenant requires: checked
    here, where every page gets its user, so no page can forget it."""
    if signed.two_factor_missing:
        raise TwoFactorSetupRequired
    return signed


async def current_user(signed: Annotated[SignedIn, Depends(current_sign_in)]) -> User:
    """The signed-in user, or a redirect (to /login, or to the two-factor set-up)."""
    return signed.user


async def dashboard_attempt(request: Request, kind: str, key: str | None = None) -> None:
    """Count an attempt of `kind` (see Limits.dashboard_attempt) from the client's
    address, or for `key`; 429 past its share."""
    await request.app.state.limits.dashboard_attempt(kind, key or client_address(request))


async def start_signed_in(request: Request, session: SessionDep, user: User, to: str) -> Response:
    """Start a new session for `user` (a new token, so new form tokens, every time)
    and go to `to`. The pre-session that signed in is over; the browser is one of the
    account's known devices from now on (remember_device)."""
    token = await sessions.start_session(session, user=user, client=anonymous_actor(request))
    response = redirect(request, to)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )
    delete_cookie(request, response, PRESESSION_COOKIE)
    remember_device(request, response, user)
    return response


def sessions_signed_out(count: int) -> str:
    """The flash message after `count` other sessions ended."""
    return f"{count} other session{'s' if count != 1 else ''} signed out."


def remember_device(request: Request, response: Response, user: User) -> None:
    """Make the browser one of `user`'s known devices (a new device cookie): at every
    sign-in, and after an action of its own that forgot the user's devices (a new
    password, turning two-factor on)."""
    device = devices.issue(request.app.state.device_key, user_id=user.id, now=utcnow())
    lifetime = int(devices.DEVICE_LIFETIME.total_seconds())
    set_cookie(request, response, DEVICE_COOKIE, device, max_age=lifetime)


def device_claim(request: Request) -> devices.DeviceClaim | None:
    """What the browser's device cookie claims, if this server signed it; every sign-in
    check is given it, and decides whether it is the account's (see
    relay.accounts.devices)."""
    cookie = request.cookies.get(cookie_name(request, DEVICE_COOKIE))
    return devices.claim_of(request.app.state.device_key, cookie, now=utcnow())


CheckedForm = Annotated[FormData, Depends(checked_form)]
CurrentUser = Annotated[User, Depends(current_user)]
CurrentSignIn = Annotated[SignedIn, Depends(current_sign_in)]
# For the two-factor set-up only: a user the tenant sends there may use it.
SignedInBeforeTwoFactor = Annotated[SignedIn, Depends(signed_in)]


def page_number(request: Request, last: int) -> int:
    """`?page=N` as a link would carry it (ASCII digits, 1 to `last`); anything else
    ("²", "٣", "-1", "") means the first page, never an error."""
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= last:
        return 1
    return int(raw)


def field(form: FormData, name: str) -> str:
    """A text field of the form, '' when absent or not text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
