"""Pages for signing up (confirmed by email when Relay can send mail), in (with a
second factor when the user has one) and out, and accepting an invitation."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from relay.accounts import pending_sign_ins, sessions, sign_ups, two_factor
from relay.accounts import sign_in as signin
from relay.dashboard.form_errors import error_for
from relay.dashboard.permissions import needs, signed_out
from relay.dashboard.web import (
    PENDING_SIGN_IN_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    anonymous_actor,
    client_address,
    dashboard_attempt,
    delete_cookie,
    device_claim,
    field,
    redirect,
    render,
    session_token,
    set_cookie,
    settings_of,
    start_signed_in,
)
from relay.db import ReadSessionDep, SessionDep, read_session
from relay.errors import ConflictError, NotFoundError, RelayError
from relay.limits.policy import TooManyRequests
from relay.links import public_url
from relay.mail import Mailer, mailer_for
from relay.tenants import members, roles
from relay.tenants import service as tenants_service
from relay.tokens import LinkToken

router = APIRouter(include_in_schema=False)

HOME = "/settings/api-keys"
SIGNUP_CLOSED = "Sign-up is turned off on this server. Ask its operator for an account."
# The service's field names, as the sign-up form's element ids.
SIGNUP_FIELDS = {"name": "organisation", "email": "email"}


@router.get("/", dependencies=[signed_out("the front door: sign-in or the keys")])
async def home(request: Request, session: SessionDep) -> RedirectResponse:
    signed = await sessions.resolve(
        session, token=session_token(request), client_address=client_address(request)
    )
    return RedirectResponse(HOME if signed else "/login", status_code=303)


def _signup_closed(request: Request) -> HTMLResponse:
    context = {"title": "Sign up", "message": SIGNUP_CLOSED}
    return render(request, "message.html", context, status_code=403)


@router.get("/signup", dependencies=[signed_out("sign-up")])
async def signup_page(request: Request) -> HTMLResponse:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    return render(request, "signup.html", {"by_mail": _can_mail(request)})


def _can_mail(request: Request) -> bool:
    return mailer_for(settings_of(request)) is not None


@router.post("/signup", dependencies=[signed_out("sign-up")])
async def signup(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    values = {name: field(form, name) for name in ("organisation", "email")}
    mailer = mailer_for(settings_of(request))
    try:
        await dashboard_attempt(request, "sign-up")
        if mailer is not None:
            return await _sign_up_by_mail(request, session, mailer, values["email"])
        _tenant, owner = await tenants_service.create_tenant(
            session,
            name=values["organisation"],
            email=values["email"],
            password=field(form, "password"),
        )
    except RelayError as exc:
        await session.rollback()  # no tenant without its owner
        errors = error_for(exc, SIGNUP_FIELDS, "password")
        context = {"errors": errors, "values": values, "by_mail": mailer is not None}
        return render(request, "signup.html", context, status_code=exc.status_code)
    return await start_signed_in(request, session, owner, HOME)


async def _sign_up_by_mail(
    request: Request, session: SessionDep, mailer: Mailer, email: str
) -> HTMLResponse:
    """Mail a link to finish signing up, and answer the same whether the email is new
    or taken; the message (sent after the answer) is the only difference. Past the
    address's share of messages none is sent, and the page says that the links
    already sent still work: asking for more cannot lock the address's owner out."""
    email = tenants_service.clean_email(email)
    try:
        await dashboard_attempt(request, "email", email)
    except TooManyRequests:
        context = {"email": email, "already_sent": True}
        return render(request, "signup_check_email.html", context)
    token = await sign_ups.request_sign_up(session, email=email)
    settings = settings_of(request)
    mail = (
        sign_ups.confirmation_mail(email, public_url(settings, f"/signup/confirm/{token}"))
        if token
        else sign_ups.account_exists_mail(
            email, public_url(settings, "/login"), public_url(settings, "/forgot-password")
        )
    )
    response = render(request, "signup_check_email.html", {"email": email})
    response.background = BackgroundTask(mailer.deliver, mail)
    return response


@router.get("/signup/confirm/{token}", dependencies=[signed_out("a sign-up link from mail")])
async def signup_confirmation_page(
    request: Request, session: ReadSessionDep, token: LinkToken
) -> HTMLResponse:
    try:
        pending = await sign_ups.find_sign_up(session, token=token)
    except RelayError as exc:
        return link_unusable(request, exc, "Sign up", SIGNUP_WAYS_ON)
    context = {"token": token, "email": pending.email}
    return render(request, "signup_confirm.html", context, no_store=True)


@router.post("/signup/confirm/{token}", dependencies=[signed_out("a sign-up link from mail")])
async def confirm_signup(
    request: Request, session: SessionDep, token: LinkToken, form: CheckedForm
) -> Response:
    """Create the account with the organisation's name and the password chosen here,
    by whoever followed the link."""
    if not settings_of(request).allow_signup:
        return _signup_closed(request)
    try:
        async with read_session(request) as read:
            email = (await sign_ups.find_sign_up(read, token=token)).email
    except RelayError as exc:
        return link_unusable(request, exc, "Sign up", SIGNUP_WAYS_ON)
    organisation = field(form, "organisation")
    try:
        await dashboard_attempt(request, "sign-up")
        tenants_service.clean_tenant_name(organisation)
        # Hashed before this request's transaction starts: no lock waits on argon2.
        password_hash = await tenants_service.prepare_password(field(form, "password"))
        owner = await sign_ups.confirm_sign_up(
            session, token=token, organisation=organisation, password_hash=password_hash
        )
    except (NotFoundError, ConflictError) as exc:
        await session.rollback()
        return link_unusable(request, exc, "Sign up", SIGNUP_WAYS_ON)
    except RelayError as exc:
        await session.rollback()  # the link stays usable when the account was not made
        context = {
            "token": token,
            "email": email,
            "values": {"organisation": organisation},
            "errors": error_for(exc, SIGNUP_FIELDS, "password"),
        }
        return render(request, "signup_confirm.html", context, refused=exc, no_store=True)
    return await start_signed_in(request, session, owner, HOME)


@router.get("/login", dependencies=[signed_out("sign-in")])
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", {"allow_signup": settings_of(request).allow_signup})


@router.post("/login", dependencies=[signed_out("sign-in")])
async def login(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    email = field(form, "email")
    client = anonymous_actor(request)
    try:
        await dashboard_attempt(request, "sign-in")
        # Not in this request's session: sign_in commits its own short transactions
        # and checks the password with none open.
        user = await signin.sign_in(
            request.app.state.db,
            email=email,
            password=field(form, "password"),
            client=client,
            device=device_claim(request),
            backoff_max=settings_of(request).signin_backoff_max,
        )
    except RelayError as exc:
        context = {
            "errors": error_for(exc, {}, "email"),
            "email": email,
            "allow_signup": settings_of(request).allow_signup,
        }
        return render(request, "login.html", context, refused=exc)
    if await two_factor.is_enabled(session, user_id=user.id):
        # No session yet: only this browser, with the code, can finish signing in.
        token = await pending_sign_ins.start_pending(session, user=user)
        to_code = redirect(request, "/login/two-factor")
        lifetime = int(pending_sign_ins.PENDING_LIFETIME.total_seconds())
        set_cookie(request, to_code, PENDING_SIGN_IN_COOKIE, token, max_age=lifetime)
        return to_code
    await signin.record_sign_in(session, user, client)
    return await start_signed_in(request, session, user, HOME)


@router.post("/logout", dependencies=[needs(roles.ACCOUNT)])
async def logout(request: Request, session: SessionDep, _form: CheckedForm) -> Response:
    await sessions.end_session(session, token=session_token(request))
    response = redirect(request, "/login")
    delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/invitations/{token}", dependencies=[signed_out("an invitation link")])
async def invitation_page(request: Request, session: SessionDep, token: LinkToken) -> HTMLResponse:
    try:
        invitation = await members.find_open_invitation(session, token=token)
    except RelayError as exc:
        return link_unusable(request, exc, "Invitation", INVITATION_WAYS_ON)
    return render(
        request,
        "accept_invitation.html",
        {"email": invitation.email, "token": token},
        no_store=True,
    )


@router.post("/invitations/{token}", dependencies=[signed_out("an invitation link")])
async def accept_invitation(
    request: Request, session: SessionDep, token: LinkToken, form: CheckedForm
) -> Response:
    try:
        async with read_session(request) as read:
            email = (await members.find_open_invitation(read, token=token)).email
    except RelayError as exc:
        return link_unusable(request, exc, "Invitation", INVITATION_WAYS_ON)
    try:
        await dashboard_attempt(request, "sign-up")
        # Hashed before this request's transaction starts: no lock waits on argon2.
        password_hash = await tenants_service.prepare_password(field(form, "password"))
        member = await members.accept_invitation(
            session, token=token, password_hash=password_hash, client=anonymous_actor(request)
        )
    except RelayError as exc:
        await session.rollback()  # the invitation stays unused
        context = {"errors": error_for(exc, {}, "password"), "token": token, "email": email}
        return render(request, "accept_invitation.html", context, status_code=exc.status_code)
    return await start_signed_in(request, session, member, HOME)


# Where a link that cannot be used (any more) leads instead: (label, address).
WaysOn = Sequence[tuple[str, str]]
SIGNUP_WAYS_ON: WaysOn = [("Sign up again", "/signup"), ("Sign in", "/login")]
INVITATION_WAYS_ON: WaysOn = [("Sign in", "/login")]


def link_unusable(request: Request, exc: RelayError, title: str, ways: WaysOn) -> HTMLResponse:
    """The page for a link that cannot be used (any more), with the ways on."""
    context = {"title": title, "message": exc.detail, "ways": ways}
    return render(request, "message.html", context, status_code=exc.status_code)
