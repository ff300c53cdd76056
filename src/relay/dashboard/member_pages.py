"""Settings > Members: the tenant's members, invitation links (shown to the owner, or
mailed to the invitee when mail is configured), removing a member, and whether every
member must sign in with a second factor."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from relay.accounts import two_factor
from relay.dashboard.account_settings_pages import reauthenticate
from relay.dashboard.form_errors import error_for
from relay.dashboard.permissions import needs
from relay.dashboard.web import (
    CheckedForm,
    CurrentUser,
    dashboard_attempt,
    field,
    redirect,
    render,
    settings_of,
    user_actor,
)
from relay.db import SessionDep
from relay.errors import RelayError
from relay.links import public_url
from relay.mail import mailer_for
from relay.tenants import members, roles
from relay.tenants.models import Invitation, Tenant, User

router = APIRouter(prefix="/settings", include_in_schema=False)

MEMBERS = "/settings/members"


async def _members_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    invite_link: str | None = None,
    mailed_to: str | None = None,
    renewed_for: str | None = None,
    errors: dict[str, str] | None = None,
    email: str = "",
    role: str = roles.DEFAULT_INVITED_ROLE,
    new_owner: str = "",
    status_code: int = 200,
    refused: RelayError | None = None,
) -> HTMLResponse:
    tenant_members = await members.list_members(session, tenant_id=user.tenant_id)
    removing = request.query_params.get("remove")
    context = {
        "members": tenant_members,
        "invitations": await members.list_pending_invitations(session, tenant_id=user.tenant_id),
        "invite_link": invite_link,
        "mailed_to": mailed_to,
        "renewed_for": renewed_for,
        "can_mail": mailer_for(settings_of(request)) is not None,
        "errors": errors or {},
        "email": email,
        "invite_role": role,
        "new_owner": new_owner,
        "role_names": roles.ROLE_NAMES,
        "assignable": roles.ASSIGNABLE,
        "permissions": roles.PERMISSIONS,
        "grants": roles.GRANTS,
        "removing": next((m for m in tenant_members if str(m.id) == removing), None),
        "with_two_factor": await two_factor.members_with_two_factor(
            session, tenant_id=user.tenant_id
        ),
        "two_factor_required": await two_factor.tenant_requires(session, tenant_id=user.tenant_id),
    }
    return render(
        request, "members.html", context,
        user=user, status_code=status_code, no_store=True, refused=refused,
    )  # fmt: skip


@router.get("/members", dependencies=[needs(roles.VIEW)])
async def members_page(request: Request, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    return await _members_page(request, session, user)


@router.post("/members", dependencies=[needs(roles.MEMBERS)])
async def invite_member(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> HTMLResponse:
    """An invitation link: shown to the owner to hand over, or, with mail configured,
    mailed to the invitee alone (counted toward the tenant's invitation limit and the
    address's mail limit, once the inviter is known to be the owner: a member's
    refused post must not use up anyone's share)."""
    email, role = field(form, "email"), field(form, "role") or roles.DEFAULT_INVITED_ROLE
    try:
        invitation, token = await members.invite_member(
            session, inviter=user, email=email, actor=user_actor(request, user), role=role,
            before_issuing=_mail_limits(request, user),
        )  # fmt: skip
    except RelayError as exc:
        errors = error_for(exc, {"role": "invite-role"}, "invite-email")
        return await _members_page(
            request, session, user, errors=errors, email=email, role=role, refused=exc
        )
    return await _hand_over(request, session, user, invitation, token, status_code=201)


@router.post("/members/invitations/{invitation_id}/renew", dependencies=[needs(roles.MEMBERS)])
async def renew_invitation(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    invitation_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    """A new link for a pending invitation (the previous one stops working), handed
    over as a new invitation's: shown once, or, with mail configured, mailed to the
    invited address alone and counted toward the same limits."""
    try:
        invitation, token = await members.renew_invitation(
            session, renewer=user, invitation_id=invitation_id,
            actor=user_actor(request, user), before_issuing=_mail_limits(request, user),
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, MEMBERS, error=exc.detail)
    return await _hand_over(request, session, user, invitation, token, renewed_for=invitation.email)


def _mail_limits(request: Request, user: User) -> Callable[[str], Awaitable[None]] | None:
    """With mail configured, what counts an invitation mailed to an address toward the
    tenant's invitation limit and the address's mail limit; None without mail."""
    if mailer_for(settings_of(request)) is None:
        return None

    async def count_mail(address: str) -> None:
        await dashboard_attempt(request, "invitation", str(user.tenant_id))
        await dashboard_attempt(request, "email", address)

    return count_mail


async def _hand_over(
    request: Request,
    session: SessionDep,
    user: User,
    invitation: Invitation,
    token: str,
    *,
    renewed_for: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The members page with the invitation's link shown once to the owner, or, with
    mail configured, saying it was mailed (sent once the page is); `renewed_for`, the
    address, when the link replaces one of a pending invitation."""
    settings = settings_of(request)
    mailer = mailer_for(settings)
    link = public_url(settings, f"/invitations/{token}")
    if mailer is None:
        return await _members_page(
            request,
            session,
            user,
            invite_link=link,
            renewed_for=renewed_for,
            status_code=status_code,
        )
    tenant = await session.get(Tenant, user.tenant_id)
    mail = members.invitation_mail(
        invitation.email, inviter=user.email, organisation=tenant.name if tenant else "",
        link=link, renewed=renewed_for is not None,
    )  # fmt: skip
    page = await _members_page(
        request, session, user, mailed_to=invitation.email, renewed_for=renewed_for,
        status_code=status_code,
    )  # fmt: skip
    page.background = BackgroundTask(mailer.deliver, mail)
    return page


@router.post("/members/{member_id}/remove", dependencies=[needs(roles.MEMBERS)])
async def remove_member(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    member_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    try:
        removed = await members.remove_member(
            session, remover=user, member_id=member_id, actor=user_actor(request, user)
        )
    except RelayError as exc:
        return redirect(request, MEMBERS, error=exc.detail)
    return redirect(request, MEMBERS, flash=f"{removed.email} was removed and signed out.")


@router.post("/members/{member_id}/role", dependencies=[needs(roles.MEMBERS)])
async def change_role(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    member_id: uuid.UUID,
    form: CheckedForm,
) -> Response:
    """Give a member another role below owner, from their next page."""
    try:
        member = await members.change_role(
            session, changer=user, member_id=member_id, role=field(form, "role"),
            actor=user_actor(request, user),
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, MEMBERS, error=exc.detail)
    said = roles.ROLE_NAMES[roles.as_role(member.role)]
    return redirect(request, MEMBERS, flash=f"{member.email} is now {said}.")


@router.post("/members/ownership", dependencies=[needs(roles.OWNERSHIP)])
async def transfer_ownership(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Hand ownership to another member, with the owner's password (a stolen session
    alone must not give the organisation away); the owner becomes an admin."""
    errors: dict[str, str] = {}
    status_code = 422
    try:
        member_id = uuid.UUID(field(form, "member"))
    except ValueError:
        errors = {"transfer-member": "Choose the member who becomes the owner"}
    else:
        try:
            await reauthenticate(request, session, user, field(form, "password"), field="password")
            member = await members.transfer_ownership(
                session, owner=user, member_id=member_id, actor=user_actor(request, user)
            )
        except RelayError as exc:
            at_password = exc.field == "password"
            errors = {"transfer-password" if at_password else "transfer-member": exc.detail}
            status_code = exc.status_code
        else:
            return redirect(
                request, MEMBERS, flash=f"{member.email} is now the owner; you are an admin."
            )
    # The member chosen stays chosen; the password is never sent back.
    return await _members_page(
        request, session, user, errors=errors, new_owner=field(form, "member"),
        status_code=status_code,
    )  # fmt: skip


@router.post("/members/invitations/{invitation_id}/cancel", dependencies=[needs(roles.MEMBERS)])
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
        return redirect(request, MEMBERS, error=exc.detail)
    return redirect(request, MEMBERS, flash=f"The invitation for {cancelled.email} was cancelled.")


@router.post("/members/two-factor", dependencies=[needs(roles.POLICIES)])
async def require_two_factor(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Require two-factor sign-in of every member, or stop (the owner only, with their
    password: a stolen session alone must not lift the requirement)."""
    required = field(form, "require_two_factor") == "on"
    try:
        await reauthenticate(request, session, user, field(form, "password"), field="password")
        await two_factor.set_requirement(
            session, owner=user, required=required, actor=user_actor(request, user)
        )
    except RelayError as exc:
        at_password = exc.field == "password"
        errors = {
            "require-two-factor-password" if at_password else "require-two-factor": exc.detail
        }
        return await _members_page(
            request, session, user, errors=errors, status_code=exc.status_code
        )
    done = (
        "Every member now signs in with a second factor; those without one set it up first."
        if required
        else "Two-factor sign-in is no longer required."
    )
    return redirect(request, MEMBERS, flash=done)
