"""Notices in the dashboard: each member chooses the kinds they get by mail (a form on
Settings > Account), and anyone who manages keys dismisses the expiry and quota
notices every page shows (relay.notices)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, redirect
from relay.db import SessionDep
from relay.notices import service as notices
from relay.tenants import roles

router = APIRouter(include_in_schema=False)

ACCOUNT = "/settings/account"
API_KEYS = "/settings/api-keys"


@router.post(f"{ACCOUNT}/notices", dependencies=[needs(roles.ACCOUNT)])
async def choose_notices(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Save the kinds of notice the user gets by mail (the boxes ticked; none: none)."""
    ticked = set(form.getlist("notices"))
    wanted = {kind for kind in notices.KINDS if kind in ticked}
    await notices.save_preferences(session, user_id=user.id, wanted=wanted)
    return redirect(request, ACCOUNT, flash="Your choice of notices by mail was saved.")


@router.post("/settings/notices/{notice_id}/dismiss", dependencies=[needs(roles.KEYS)])
async def dismiss_notice(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    notice_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    """Hide an expiry or quota notice for everyone in the organisation."""
    await notices.dismiss_notice(session, tenant_id=user.tenant_id, notice_id=notice_id)
    return redirect(request, API_KEYS, flash="Notice dismissed.")
