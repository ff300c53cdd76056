"""Pages for signing up, in and out, and accepting an invitation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relay.dashboard import members, sessions, signin
from relay.dashboard.form_errors import error_for
from relay.dashboard.web import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    anonymous_actor,
    client_address,
    delete_cookie,
    field,
    redirect,
    render,
    session_token,
    set_cookie,
    settings_of,
)
from relay.db import ReadSessionDep, SessionDep
from relay.errors import RelayError
from relay.limits.policy import Limits
from relay.tenants import service as tenants_service
from relay.tenants.models import User

router = APIRouter(include_in_schema=False)

HOME = "/settings/api-keys"
SIGNUP_CLOSED = "Sign-up is turned off on this server. Ask its operator for an account."


async def _signed_in(request: Request, session: SessionDep, user: User, to: str) -> Response:
    """Start a new session for `user` (a new token, so new form tokens, every time)
    and go to `to`. The pre-session that signed in is over."""
    token = await sessions.start_session(session, user=user)
    response = redirect(request, to)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )
    delete_cookie(request, response, PRESESSION_COOKIE)
    return response


@router.get("/")
async def home(request: Request, session: SessionDep) -> RedirectResponse:
    user = await sessions.user_for_token(session, session_token(request))
    return RedirectResponse(HOME if user else "/login", status_code=303)


def _signup_closed(request: Request) -> HTMLResponse:
    context = {"title": "Sign up", "message": SIGNUP_CLOSED}
    return render(request, "message.html", context, status_code=403)


@router.get("/signup")
async def signup_page(request: Request) -> HTMLResponse:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    return render(request, "signup.html")


async def _dashboard_attempt(request: Request, kind: str) -> None:
    """Count a sign-in or sign-up from the client's address (429 past its share)."""
    limits: Limits = request.app.state.limits
    await limits.dashboard_attempt(kind, client_address(request))


@router.post("/signup")
async def signup(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    values = {name: field(form, name) for name in ("organisation", "email")}
    try:
        await _dashboard_attempt(request, "sign-up")
        _tenant, owner = await tenants_service.create_tenant(
            session,
            name=values["organisation"],
            email=values["email"],
            password=field(form, "password"),
        )
    except RelayError as exc:
        await session.rollback()  # no tenant without its owner
        errors = error_for(exc, {"name": "organisation", "email": "email"}, "password")
        context = {"errors": errors, "values": values}
        return render(request, "signup.html", context, status_code=exc.status_code)
    return await _signed_in(request, session, owner, HOME)


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"allow_signup": settings_of(request).allow_signup})


@router.post("/login")
async def login(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    email = field(form, "email")
    client = anonymous_actor(request)
    try:
        await _dashboard_attempt(request, "sign-in")
        # Not in this request's session: sign_in commits its own short transactions
        # and checks the password with none open.
        user = await signin.sign_in(
            request.app.state.db,
            email=email,
            password=field(form, "password"),
            client=client,
            backoff_max=settings_of(request).signin_backoff_max,
        )
    except RelayError as exc:
        context = {
            "errors": error_for(exc, {}, "email"),
            "email": email,
            "allow_signup": settings_of(request).allow_signup,
        }
        response = render(request, "login.html", context, status_code=exc.status_code)
        response.headers.update(exc.headers or {})
        return response
    signin.record_sign_in(session, user, client)
    return await _signed_in(request, session, user, HOME)


@router.post("/logout")
async def logout(request: Request, session: SessionDep, _form: CheckedForm) -> Response:
    await sessions.end_session(session, token=session_token(request))
    response = redirect(request, "/login")
    delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/invitations/{token}")
async def invitation_page(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    try:
        invitation = await members.find_open_invitation(session, token=token)
    except RelayError as exc:
        return _invitation_unusable(request, exc)
    return render(
        request,
        "accept_invitation.html",
        {"email": invitation.email, "token": token},
        no_store=True,
    )


@router.post("/invitations/{token}")
async def accept_invitation(
    request: Request, read: ReadSessionDep, session: SessionDep, token: str, form: CheckedForm
) -> Response:
    try:
        email = (await members.find_open_invitation(read, token=token)).email
    except RelayError as exc:
        return _invitation_unusable(request, exc)
    try:
        await _dashboard_attempt(request, "sign-up")
        # Hashed before this request's transaction starts: no lock waits on argon2.
        password_hash = await tenants_service.prepare_password(field(form, "password"))
        member = await members.accept_invitation(
            session, token=token, password_hash=password_hash, client=anonymous_actor(request)
        )
    except RelayError as exc:
        await session.rollback()  # the invitation stays unused
        context = {"errors": error_for(exc, {}, "password"), "token": token, "email": email}
        return render(request, "accept_invitation.html", context, status_code=exc.status_code)
    return await _signed_in(request, session, member, HOME)


def _invitation_unusable(request: Request, exc: RelayError) -> HTMLResponse:
    context = {"title": "Invitation", "message": exc.detail}
    return render(request, "message.html", context, status_code=404)
