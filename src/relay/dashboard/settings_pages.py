"""Settings > API Keys and Settings > Members."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.auth.verifier import KeyVerifier
from relay.dashboard import members
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render
from relay.db import SessionDep, utcnow
from relay.errors import RelayError
from relay.tenants.models import User

router = APIRouter(prefix="/settings", include_in_schema=False)

API_KEYS = "/settings/api-keys"
MEMBERS = "/settings/members"
EXPIRY_CHOICES = {"none": None, "30": 30, "60": 60, "90": 90}


def _expires_at(choice: str, custom_date: str) -> datetime | str | None:
    """The expiry the form asks for; a custom date means the end of that day, UTC.
    An unparseable date is passed on as text so that validation reports it."""
    if choice in EXPIRY_CHOICES:
        days = EXPIRY_CHOICES[choice]
        return None if days is None else utcnow() + timedelta(days=days)
    try:
        day = datetime.strptime(custom_date, "%Y-%m-%d").date()
    except ValueError:
        return custom_date or "missing date"
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


async def _api_keys_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    created: tuple[ApiKey, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    api_keys = await auth_service.list_api_keys(session, tenant_id=user.tenant_id)
    revoking = request.query_params.get("revoke")
    context = {
        "api_keys": api_keys,
        "now": utcnow(),
        "created": created,
        "errors": errors or {},
        "show_create": bool(errors) or request.query_params.get("create") == "1",
        "revoking": next((key for key in api_keys if str(key.id) == revoking), None),
    }
    # The page that carries a new key must never be cached or replayed.
    return render(
        request, "api_keys.html", context, user=user, status_code=status_code, no_store=True
    )


@router.get("/api-keys")
async def api_keys_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    return await _api_keys_page(request, session, user)


@router.post("/api-keys")
async def create_api_key(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> HTMLResponse:
    try:
        data = ApiKeyCreate(
            name=field(form, "name"),
            expires_at=_expires_at(field(form, "expiration"), field(form, "expires_on")),
        )
    except ValidationError as exc:
        errors = {str(error["loc"][0]): error["msg"] for error in exc.errors()}
        return await _api_keys_page(request, session, user, errors=errors, status_code=422)
    created = await auth_service.create_api_key(
        session, tenant_id=user.tenant_id, data=data, created_by=f"user:{user.id}"
    )
    return await _api_keys_page(request, session, user, created=created, status_code=201)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, _form: CheckedForm
) -> Response:
    try:
        verifier: KeyVerifier = request.app.state.verifier
        revoked = await verifier.revoke(session, tenant_id=user.tenant_id, key_id=key_id)
    except RelayError as exc:
        return redirect(request, API_KEYS, flash=exc.detail)
    return redirect(request, API_KEYS, flash=f"API key “{revoked.name}” revoked.")


async def _members_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    invite_link: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_members = await members.list_members(session, tenant_id=user.tenant_id)
    removing = request.query_params.get("remove")
    context = {
        "members": tenant_members,
        "invitations": await members.list_pending_invitations(session, tenant_id=user.tenant_id),
        "invite_link": invite_link,
        "error": error,
        "removing": next((m for m in tenant_members if str(m.id) == removing), None),
    }
    return render(
        request, "members.html", context, user=user, status_code=status_code, no_store=True
    )


@router.get("/members")
async def members_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    return await _members_page(request, session, user)


@router.post("/members")
async def invite_member(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> HTMLResponse:
    try:
        _invitation, token = await members.invite_member(
            session, inviter=user, email=field(form, "email")
        )
    except RelayError as exc:
        return await _members_page(request, session, user, error=exc.detail, status_code=400)
    link = str(request.url_for("invitation_page", token=token))
    return await _members_page(request, session, user, invite_link=link, status_code=201)


@router.post("/members/{member_id}/remove")
async def remove_member(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    member_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    try:
        removed = await members.remove_member(session, remover=user, member_id=member_id)
    except RelayError as exc:
        return redirect(request, MEMBERS, flash=exc.detail)
    return redirect(request, MEMBERS, flash=f"{removed.email} was removed and signed out.")


@router.post("/members/invitations/{invitation_id}/cancel")
async def cancel_invitation(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    invitation_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    try:
        cancelled = await members.cancel_invitation(
            session, canceller=user, invitation_id=invitation_id
        )
    except RelayError as exc:
        return redirect(request, MEMBERS, flash=exc.detail)
    return redirect(request, MEMBERS, flash=f"The invitation for {cancelled.email} was cancelled.")
