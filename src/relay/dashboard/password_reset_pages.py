"""Forgotten passwords: /forgot-password mails a single-use link (when Relay can send
mail; otherwise the page says to ask an operator, who runs `relay users
reset-password`), and /reset-password/<token> sets the new password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from relay.accounts import passwords
from relay.audit.actions import Action
from relay.dashboard.account_pages import link_unusable
from relay.dashboard.form_errors import error_for
from relay.dashboard.permissions import signed_out
from relay.dashboard.web import (
    SESSION_COOKIE,
    CheckedForm,
    anonymous_actor,
    dashboard_attempt,
    delete_cookie,
    field,
    redirect,
    render,
    settings_of,
    with_security_notice,
)
from relay.db import ReadSessionDep, SessionDep, read_session
from relay.errors import NotFoundError, RelayError
from relay.links import public_url
from relay.mail import mailer_for
from relay.tenants import service as tenants_service
from relay.tokens import LinkToken

router = APIRouter(include_in_schema=False)

RESET_TITLE = "Reset your password"
RESET_WAYS_ON = [("Ask for a new reset link", "/forgot-password"), ("Sign in", "/login")]
RESET_DONE = (
    "Your password was changed and every session of your account was signed out. "
    "Sign in with the new password."
)


@router.get("/forgot-password", dependencies=[signed_out("a forgotten password")])
async def forgot_password_page(request: Request) -> HTMLResponse:
    """Ask for a reset link by email (or learn whom to ask, without mail)."""
    can_mail = mailer_for(settings_of(request)) is not None
    return render(request, "forgot_password.html", {"can_mail": can_mail})


@router.post("/forgot-password", dependencies=[signed_out("a forgotten password")])
async def forgot_password(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    """Mail a reset link if the email has an account. The answer is the same either
    way (the message goes after it), so it tells no one which emails have accounts."""
    mailer = mailer_for(settings_of(request))
    if mailer is None:
        return render(request, "forgot_password.html", {"can_mail": False}, status_code=404)
    email = field(form, "email")
    try:
        email = tenants_service.clean_email(email)
        await dashboard_attempt(request, "password-reset")
        await dashboard_attempt(request, "email", email)
    except RelayError as exc:
        context = {"can_mail": True, "errors": {"email": exc.detail}, "email": email}
        return render(request, "forgot_password.html", context, refused=exc)
    response = render(request, "forgot_password.html", {"can_mail": True, "sent_to": email})
    user = await tenants_service.find_user(session, email)
    if user is not None:
        token, _expires_at = await passwords.create_reset_token(session, user=user)
        link = public_url(settings_of(request), f"/reset-password/{token}")
        response.background = BackgroundTask(mailer.deliver, passwords.reset_mail(email, link))
    return response


@router.get("/reset-password/{token}", dependencies=[signed_out("a reset link from mail")])
async def reset_password_page(
    request: Request, session: ReadSessionDep, token: LinkToken
) -> Response:
    """Choose a new password, from a reset link."""
    try:
        user = await passwords.reset_link_user(session, token=token)
    except RelayError as exc:
        return link_unusable(request, exc, RESET_TITLE, RESET_WAYS_ON)
    context = {"token": token, "email": user.email}
    return render(request, "reset_password.html", context, no_store=True)


@router.post("/reset-password/{token}", dependencies=[signed_out("a reset link from mail")])
async def reset_password(
    request: Request, session: SessionDep, token: LinkToken, form: CheckedForm
) -> Response:
    """Set the new password; the link is used up and every session of the user ends."""
    try:
        async with read_session(request) as read:
            user = await passwords.reset_link_user(read, token=token)
    except RelayError as exc:
        return link_unusable(request, exc, RESET_TITLE, RESET_WAYS_ON)
    try:
        # Each post with a live link costs argon2: counted with the reset requests.
        await dashboard_attempt(request, "password-reset")
        # Hashed before this request's transaction starts: no lock waits on argon2.
        password_hash = await tenants_service.prepare_password(field(form, "password"))
        await passwords.reset_password(
            session, token=token, password_hash=password_hash, client=anonymous_actor(request)
        )
    except NotFoundError as exc:  # used by another request meanwhile
        return link_unusable(request, exc, RESET_TITLE, RESET_WAYS_ON)
    except RelayError as exc:
        context = {"token": token, "email": user.email, "errors": error_for(exc, {}, "password")}
        return render(
            request, "reset_password.html", context, status_code=exc.status_code, no_store=True
        )
    response = with_security_notice(
        request, redirect(request, "/login", flash=RESET_DONE), user, Action.USER_PASSWORD_RESET
    )
    delete_cookie(request, response, SESSION_COOKIE)
    return response
