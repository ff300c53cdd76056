"""Pages for signing up, in and out, and accepting an invitation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relay.dashboard import members, sessions, signin
from relay.dashboard.web import (
    SESSION_COOKIE,
    CheckedForm,
    anonymous_actor,
    field,
    redirect,
    render,
    set_cookie,
    settings_of,
)
from relay.db import SessionDep
from relay.errors import RelayError
from relay.tenants import service as tenants_service
from relay.tenants.models import User

router = APIRouter(include_in_schema=False)

HOME = "/settings/api-keys"
SIGNUP_CLOSED = "Sign-up is turned off on this server. Ask its operator for an account."


async def _signed_in(request: Request, session: SessionDep, user: User, to: str) -> Response:
    """Start a new session for `user` (a new token every time) and go to `to`."""
    token = await sessions.start_session(session, user=user)
    response = redirect(request, to)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
    )
    return response


@router.get("/")
async def home(request: Request, session: SessionDep) -> RedirectResponse:
    user = await sessions.user_for_token(session, request.cookies.get(SESSION_COOKIE))
    return RedirectResponse(HOME if user else "/login", status_code=303)


def _signup_closed(request: Request) -> HTMLResponse:
    context = {"title": "Sign up", "message": SIGNUP_CLOSED}
    return render(request, "message.html", context, status_code=403)


@router.get("/signup")
async def signup_page(request: Request) -> HTMLResponse:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    return render(request, "signup.html")


@router.post("/signup")
async def signup(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    values = {name: field(form, name) for name in ("organisation", "email")}
    try:
        _tenant, owner = await tenants_service.create_tenant(
            session,
            name=values["organisation"],
            email=values["email"],
            password=field(form, "password"),
        )
    except RelayError as exc:
        await session.rollback()  # no tenant without its owner
        context = {"error": exc.detail, "values": values}
        return render(request, "signup.html", context, status_code=400)
    return await _signed_in(request, session, owner, HOME)


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"allow_signup": settings_of(request).allow_signup})


@router.post("/login")
async def login(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    email = field(form, "email")
    try:
        user = await signin.sign_in(
            session, email=email, password=field(form, "password"), client=anonymous_actor(request)
        )
    except (signin.SignInRefused, signin.TooManyFailures) as exc:
        # Answered, not raised: the failure just recorded must be committed.
        context = {
            "error": exc.detail,
            "email": email,
            "allow_signup": settings_of(request).allow_signup,
        }
        return render(request, "login.html", context, status_code=exc.status_code)
    return await _signed_in(request, session, user, HOME)


@router.post("/logout")
async def logout(request: Request, session: SessionDep, _form: CheckedForm) -> Response:
    await sessions.end_session(session, token=request.cookies.get(SESSION_COOKIE))
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
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
    request: Request, session: SessionDep, token: str, form: CheckedForm
) -> Response:
    try:
        email = (await members.find_open_invitation(session, token=token)).email
    except RelayError as exc:
        return _invitation_unusable(request, exc)
    try:
        member = await members.accept_invitation(
            session, token=token, password=field(form, "password"), client=anonymous_actor(request)
        )
    except RelayError as exc:
        await session.rollback()  # the invitation stays unused
        context = {"error": exc.detail, "token": token, "email": email}
        return render(request, "accept_invitation.html", context, status_code=400)
    return await _signed_in(request, session, member, HOME)


def _invitation_unusable(request: Request, exc: RelayError) -> HTMLResponse:
    context = {"title": "Invitation", "message": exc.detail}
    return render(request, "message.html", context, status_code=404)
