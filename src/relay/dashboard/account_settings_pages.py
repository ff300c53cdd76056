"""Settings > Account: change the password, two-factor sign-in at a glance, and the
browser sessions of the user, any of which they can end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from relay.accounts import passwords, sessions, two_factor
from relay.accounts import sign_in as signin
from relay.accounts.sessions import SignedIn
from relay.accounts.user_agents import describe_browser
from relay.audit.actions import Action
from relay.dashboard.form_errors import error_for
from relay.dashboard.permissions import needs
from relay.dashboard.web import (
    CheckedForm,
    CurrentSignIn,
    anonymous_actor,
    dashboard_attempt,
    device_claim,
    field,
    redirect,
    remember_device,
    render,
    sessions_signed_out,
    settings_of,
    user_actor,
    with_security_notice,
)
from relay.db import SessionDep
from relay.errors import RelayError
from relay.notices import service as notices
from relay.tenants import roles
from relay.tenants import service as tenants_service
from relay.tenants.models import User
from relay.tenants.passwords import verify_password

router = APIRouter(prefix="/settings/account", include_in_schema=False)

ACCOUNT = "/settings/account"


@dataclass(frozen=True)
class SessionRow:
    id: uuid.UUID
    browser: str
    client_address: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


async def account_page(
    request: Request,
    session: SessionDep,
    signed: SignedIn,
    *,
    errors: dict[str, str] | None = None,
    refused: RelayError | None = None,
) -> HTMLResponse:
    """The Account tab; after a form of it was `refused`, with its `errors`
    ({element id: message})."""
    user = signed.user
    rows = [
        SessionRow(
            id=each.id,
            browser=describe_browser(each.user_agent),
            client_address=each.client_address,
            created_at=each.created_at,
            last_seen_at=each.last_seen_at,
            current=each.id == signed.session_id,
        )
        for each in await sessions.list_sessions(session, user_id=user.id)
    ]
    context = {
        "sessions": rows,
        "two_factor": await two_factor.status(session, user_id=user.id),
        "notice_choices": await notices.preferences(session, user_id=user.id),
        "notice_kinds": notices.KIND_NAMES,
        "mail_configured": bool(settings_of(request).smtp_url),
        "errors": errors or {},
    }
    return render(request, "account.html", context, user=user, no_store=True, refused=refused)


async def reauthenticate(
    request: Request, session: SessionDep, user: User, password: str, *, field: str
) -> None:
    """RelayError (at `field`) unless `password` is the user's. A wrong one is a failed
    sign-in of the user, with the same limits (per address, and the per-account
    back-off) and the same audit event: a stolen session cannot guess the password
    any faster than a stranger. No transaction (on SQLite, no write lock) stays open
    while argon2 works in its thread."""
    await dashboard_attempt(request, "sign-in")
    await session.commit()
    if not password:
        raise RelayError(passwords.ENTER_CURRENT, field=field)

    async def is_theirs(found: User | None) -> bool:
        return (
            found is not None
            and found.id == user.id
            and await verify_password(found.password_hash, password)
        )

    try:
        await signin.checked_sign_in(
            request.app.state.db,
            email=user.email,
            client=anonymous_actor(request),
            device=device_claim(request),
            backoff_max=settings_of(request).signin_backoff_max,
            check=is_theirs,
            refusal=passwords.NOT_CURRENT,
            details={"factor": "password, asked again"},
        )
    except signin.SignInRefused as exc:
        raise RelayError(passwords.NOT_CURRENT, field=field) from exc
    except RelayError as exc:
        exc.field = field
        raise


@router.get("", dependencies=[needs(roles.ACCOUNT)])
async def account(request: Request, session: SessionDep, signed: CurrentSignIn) -> HTMLResponse:
    """Settings > Account."""
    return await account_page(request, session, signed)


@router.post("/password", dependencies=[needs(roles.ACCOUNT)])
async def change_password(
    request: Request, session: SessionDep, signed: CurrentSignIn, form: CheckedForm
) -> Response:
    """Change the password (the current one required); the user's other sessions end."""
    user = signed.user
    try:
        current = field(form, "current_password")
        await reauthenticate(request, session, user, current, field="current-password")
        password_hash = await tenants_service.prepare_password(field(form, "new_password"))
        ended = await passwords.change_password(
            session,
            user=user,
            password_hash=password_hash,
            keep_session=signed.session_id,
            actor=user_actor(request, user),
        )
    except RelayError as exc:
        errors = error_for(exc, {"password": "new-password"}, "current-password")
        return await account_page(request, session, signed, errors=errors, refused=exc)
    others = f" {sessions_signed_out(ended)}" if ended else ""
    changed = redirect(request, ACCOUNT, flash=f"Your password was changed.{others}")
    # The other browsers are no longer known devices (a new credential); this one is.
    remember_device(request, changed, user)
    return with_security_notice(request, changed, user, Action.USER_PASSWORD_CHANGED)


@router.post("/sessions/{session_id}/end", dependencies=[needs(roles.ACCOUNT)])
async def end_session(
    request: Request,
    session: SessionDep,
    signed: CurrentSignIn,
    session_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    """Sign one of the user's sessions out (this one too, if asked)."""
    user = signed.user
    try:
        await sessions.end_session_by_id(
            session, user=user, session_id=session_id, actor=user_actor(request, user)
        )
    except RelayError as exc:
        return redirect(request, ACCOUNT, error=exc.detail)
    return redirect(request, ACCOUNT, flash="That session was signed out.")


@router.post("/sessions/end-others", dependencies=[needs(roles.ACCOUNT)])
async def end_other_sessions(
    request: Request, session: SessionDep, signed: CurrentSignIn, _form: CheckedForm
) -> Response:
    """Sign out every session of the user but this one."""
    user = signed.user
    ended = await sessions.end_other_sessions(
        session, user=user, keep=signed.session_id, actor=user_actor(request, user)
    )
    signed_out = redirect(request, ACCOUNT, flash=sessions_signed_out(ended))
    remember_device(request, signed_out, user)
    return signed_out
