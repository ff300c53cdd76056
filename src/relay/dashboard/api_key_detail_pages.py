"""A key's own page (/settings/api-keys/{id}): what it may do and reach, its limits with
what is left of its quota, its usage chart, what it was rolled from and into, and
(while it is neither revoked nor expired) Roll, Revoke, Suspend and three forms that
change it from its next request: its name, the datasets and addresses it is limited
to, and its rate limit, quota and limit pool. A revoked key's page stays, read only,
saying when and by whom. The forms call the same service function as PATCH on the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from relay.auth import insight, lineage, usage
from relay.auth import service as auth_service
from relay.auth.schemas import ApiKeyUpdate
from relay.auth.verifier import KeyVerifier
from relay.dashboard import charts, key_limits, key_restrictions, limit_fields
from relay.dashboard.api_key_pages import GRACE_CHOICES
from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.key_descriptions import describe_actor, describe_scopes
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render, user_actor
from relay.db import SessionDep, utcnow
from relay.errors import InvalidInput, RelayError
from relay.tenants import roles
from relay.tenants.models import User

API_KEYS = "/settings/api-keys"
router = APIRouter(prefix=API_KEYS, include_in_schema=False)

USAGE_DAYS = 30


@dataclass(frozen=True)
class KeyForm:
    """One of the forms on a key's page: its fields by the API's names and its element
    ids in page order, how the service's refusals of them read, and what it saves."""

    fields: dict[str, FormField]
    order: tuple[str, ...]
    refusal_of: Callable[[InvalidInput], dict[str, str]]
    saved: str


NAME_FIELDS = {"name": FormField("key-name", "Name", noun="a name for the key")}
RENAME = KeyForm(NAME_FIELDS, ("key-name",), lambda exc: {"key-name": exc.detail}, "Name")
RESTRICTIONS = KeyForm(
    key_restrictions.FIELDS,
    key_restrictions.ORDER,
    key_restrictions.refusal_of,
    "Datasets and addresses",
)
LIMITS = KeyForm(
    key_limits.FIELDS, key_limits.ORDER, key_limits.refusal_of, "Rate limit, quota and pool"
)


@router.get("/{key_id}", dependencies=[needs(roles.VIEW)])
async def api_key_page(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID
) -> Response:
    return await _api_key_page(request, session, user, key_id)


async def _api_key_page(
    request: Request,
    session: SessionDep,
    user: User,
    key_id: uuid.UUID,
    *,
    sent_back: KeyForm | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """A key's page; the form `sent_back` as it was sent, with `errors` (422), when given."""
    api_key = await lineage.find_api_key(session, tenant_id=user.tenant_id, key_id=key_id)
    if api_key is None:
        return redirect(request, API_KEYS, error=auth_service.API_KEY_NOT_FOUND)
    now = utcnow()
    expired = api_key.expires_at is not None and api_key.expires_at <= now
    ended = expired or api_key.revoked_at is not None
    days = await usage.daily_usage(
        session, tenant_id=user.tenant_id, key_id=key_id, days=USAGE_DAYS
    )
    restriction_values = (
        values if sent_back is RESTRICTIONS and values else key_restrictions.values_of_key(api_key)
    )
    limit_values = values if sent_back is LIMITS and values else key_limits.values_of_key(api_key)
    choices = await key_restrictions.dataset_choices(
        session,
        tenant_id=user.tenant_id,
        chosen=[*(api_key.dataset_ids or []), *restriction_values["dataset_id"]],
    )
    pools = await key_limits.pool_choices(
        session, tenant_id=user.tenant_id, chosen=[api_key.pool_id, limit_values["pool_id"]]
    )
    quota = (await auth_service.quota_status(session, [api_key])).get(api_key.id)
    rolled = await lineage.lineages(session, tenant_id=user.tenant_id, api_keys=[api_key])
    clients = await insight.recent_clients(
        session, tenant_id=user.tenant_id, key_id=key_id, now=now
    )
    used = await insight.scopes_used(session, tenant_id=user.tenant_id, key_id=key_id, now=now)
    context = {
        "api_key": api_key,
        "now": now,
        "expired": expired,
        "ended": ended,  # revoked or expired: nothing left to change, roll or suspend
        "revoked_by": describe_actor(api_key.revoked_by),
        "lineage": rolled[api_key.id],
        "clients": clients,
        # In a rotation's grace: who used the old key since it was rolled.
        "in_grace": api_key.replaced_by_id is not None and not ended,
        "since_rolled": [
            c for c in clients if api_key.rotated_at and c.last_seen > api_key.rotated_at
        ],
        "scopes_used": used,
        "suggested_scopes": insight.narrower_scopes(api_key.scopes, used),
        "ending_grace": request.query_params.get("end-grace") == "1",
        "name_value": values["name"] if sent_back is RENAME and values else api_key.name,
        "rolling": request.query_params.get("roll") == "1",
        "grace_choices": GRACE_CHOICES,
        "revoking": request.query_params.get("revoke") == "1",
        "scopes": describe_scopes(api_key.scopes),
        "reached": choices.named(api_key.dataset_ids or []),
        "choices": choices,
        "values": restriction_values,
        "limit_values": limit_values,
        "rate_limit": limit_fields.rate_limit_said(api_key.rate_limit),
        "quota_left": key_limits.quota_left(api_key, quota),
        "pool_name": pools.name_of(api_key.pool_id) if api_key.pool_id else None,
        "pools": pools,
        "periods": limit_fields.PERIODS,
        "errors": errors or {},
        "charts": [
            ("wide", charts.usage_chart(days)),
            ("narrow", charts.usage_chart(days, width=charts.PHONE_WIDTH, label_every=14)),
        ],
        "days": days,
    }
    return render(request, "api_key.html", context, user=user, status_code=422 if errors else 200)


@router.post("/{key_id}/name", dependencies=[needs(roles.KEYS)])
async def rename_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Rename a key (its name alone: the rest of its family keeps theirs)."""
    values = {"name": field(form, "name")}
    return await _change(request, session, user, key_id, RENAME, values, values, {})


@router.post("/{key_id}/restrictions", dependencies=[needs(roles.KEYS)])
async def limit_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Change the datasets and addresses a key is limited to, from its next request."""
    values = key_restrictions.values_of_form(form)
    restrictions, errors = key_restrictions.read(values)  # both sent: None lifts a limit
    return await _change(request, session, user, key_id, RESTRICTIONS, values, restrictions, errors)


@router.post("/{key_id}/limits", dependencies=[needs(roles.KEYS)])
async def set_api_key_limits(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Change a key's rate limit, quota and limit pool (its family's), from its next
    request; only what the form changed is sent."""
    try:
        api_key = await auth_service.get_api_key(session, tenant_id=user.tenant_id, key_id=key_id)
    except RelayError as exc:
        return redirect(request, API_KEYS, error=exc.detail)
    values = key_limits.values_of_form(form)
    limits, errors = key_limits.read(values, current=key_limits.values_of_key(api_key))
    return await _change(request, session, user, key_id, LIMITS, values, limits, errors)


async def _change(
    request: Request,
    session: SessionDep,
    user: User,
    key_id: uuid.UUID,
    key_form: KeyForm,
    values: dict[str, Any],
    changes: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    """Change the key as `key_form` asks (`changes`, by the API's names), or send the
    form back with what is wrong at each field."""
    data = None
    try:
        data = ApiKeyUpdate.model_validate(changes)
    except ValidationError as exc:
        errors = field_messages(exc, key_form.fields) | errors
    if not errors and data is not None:
        try:
            api_key = await auth_service.update_api_key(
                session,
                tenant_id=user.tenant_id,
                key_id=key_id,
                data=data,
                actor=user_actor(request, user),
            )
        except InvalidInput as exc:  # refused before anything was changed
            errors = key_form.refusal_of(exc)
        except RelayError as exc:
            return redirect(request, API_KEYS, error=exc.detail)
        else:
            verifier: KeyVerifier = request.app.state.verifier
            await verifier.commit_change(session, api_key)
            return redirect(
                request,
                f"{API_KEYS}/{key_id}",
                flash=f"{key_form.saved} of API key “{api_key.name}” saved.",
            )
    ordered = {key: errors[key] for key in key_form.order if key in errors}
    return await _api_key_page(
        request, session, user, key_id, sent_back=key_form, errors=ordered, values=values
    )
