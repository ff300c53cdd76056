"""What a key's own page offers from what its use tells (relay.auth.insight): ending a
rolled key's grace now, and narrowing a key to the scopes its requests needed. Both
call the services the API's changes go through, and are audited."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relay.auth import grace, insight, narrowing
from relay.auth import service as auth_service
from relay.auth.verifier import KeyVerifier
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, user_actor
from relay.db import SessionDep, utcnow
from relay.errors import RelayError
from relay.tenants import roles

API_KEYS = "/settings/api-keys"
router = APIRouter(prefix=API_KEYS, include_in_schema=False)
SUGGESTION_CHANGED = "The key's use changed since the page was shown: look at the suggestion again"


@router.post("/{key_id}/end-grace", dependencies=[needs(roles.KEYS)])
async def end_grace(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, _form: CheckedForm
) -> Response:
    """End a rolled key's grace: refused from its next request, on every worker."""
    here = f"{API_KEYS}/{key_id}"
    try:
        api_key = await grace.end_grace(
            session, tenant_id=user.tenant_id, key_id=key_id, actor=user_actor(request, user)
        )
    except RelayError as exc:
        return redirect(request, here, error=exc.detail)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, api_key)
    said = f"The grace of API key “{api_key.name}” ended: it is refused from now on."
    return redirect(request, here, flash=said)


@router.post("/{key_id}/narrow", dependencies=[needs(roles.KEYS)])
async def narrow_scopes(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Narrow the key to the scopes the page suggested, if that is still the suggestion
    (computed again here: the form only says which one the person saw)."""
    here = f"{API_KEYS}/{key_id}"
    try:
        api_key = await auth_service.get_api_key(session, tenant_id=user.tenant_id, key_id=key_id)
    except RelayError as exc:
        return redirect(request, API_KEYS, error=exc.detail)
    used = await insight.scopes_used(session, tenant_id=user.tenant_id, key_id=key_id, now=utcnow())
    suggested = insight.narrower_scopes(api_key.scopes, used)
    if suggested is None or ",".join(suggested) != field(form, "scopes"):
        return redirect(request, here, error=SUGGESTION_CHANGED)
    try:
        narrowed = await narrowing.narrow_scopes(
            session, tenant_id=user.tenant_id, key_id=key_id, scopes=suggested,
            actor=user_actor(request, user),
        )  # fmt: skip
    except RelayError as exc:
        return redirect(request, here, error=exc.detail)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, narrowed)
    said = f"API key “{narrowed.name}” now holds {', '.join(suggested)} only."
    return redirect(request, here, flash=said)
