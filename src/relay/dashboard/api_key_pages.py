"""Settings > API Keys: list (with each key's limits and what is left of its quota),
create (shown once, with its datasets, addresses, rate limit, quota and limit pool),
roll, revoke, suspend. A key's own page is api_key_detail_pages.py's. The pages call
the same service functions as the API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from relay.auth import lineage
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate, ApiKeyUpdate
from relay.auth.scopes import PermissionDenied
from relay.auth.verifier import KeyVerifier
from relay.dashboard import key_limits, key_policy_view, key_restrictions, limit_fields
from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.key_descriptions import describe_actor, describe_scopes, key_usage_example
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render, user_actor
from relay.db import SessionDep, utcnow
from relay.errors import InvalidInput, RelayError
from relay.key_policy import service as key_policy
from relay.leaks import service as leaks_service
from relay.pagination import InvalidCursor, Position, decode_cursor, keyset_page
from relay.tenants import roles
from relay.tenants.models import User

router = APIRouter(prefix="/settings/api-keys", include_in_schema=False)

API_KEYS = "/settings/api-keys"
PER_PAGE = 100
EXPIRY_CHOICES = {"none": None, "30": 30, "60": 60, "90": 90}
# Resource -> the levels the create form offers for it ("none" grants nothing).
ACCESS_LEVELS = {
    "datasets": ("none", "read", "write"),
    "api_keys": ("none", "read", "write"),
    "audit": ("none", "read"),
    "webhooks": ("none", "read", "write"),
}
GRACE_CHOICES = {"0": "Immediately", "3600": "After 1 hour", "86400": "After 24 hours",
                 "604800": "After 7 days",
                 "until_quiet": "Once unused for 15 minutes (at most 7 days)"}  # fmt: skip
NO_PERMISSION_CHOSEN = "Choose at least one permission, or Full access"


def _expires_at(choice: str, custom_date: str) -> datetime | str | None:
    """The expiry the form asks for; a custom date means the end of that day, UTC.
    A date that does not parse is passed on as text so that validation reports it."""
    if choice in EXPIRY_CHOICES:
        days = EXPIRY_CHOICES[choice]
        return None if days is None else utcnow() + timedelta(days=days)
    try:
        day = datetime.strptime(custom_date, "%Y-%m-%d").date()
    except ValueError:
        return custom_date
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _scopes(form: FormData) -> list[str]:
    """The scopes the access fields ask for: [] for Full access."""
    if field(form, "access") != "restricted":
        return []
    scopes = []
    for resource, levels in ACCESS_LEVELS.items():
        level = field(form, f"scope_{resource}")
        if level in levels and level != "none":
            scopes.append(f"{resource}:{level}")
    if not scopes:
        raise ValueError(NO_PERMISSION_CHOSEN)
    return scopes


def _grace(choice: str) -> int | Literal["until_quiet"]:
    """The roll dialog's choice as the service takes it (an hour when it is none)."""
    if choice == "until_quiet":
        return "until_quiet"
    return int(choice) if choice in GRACE_CHOICES else 3600


def _live_key_named(api_keys: Sequence[ApiKey], key_id: str | None) -> ApiKey | None:
    """The listed, unrevoked key a no-JavaScript Roll or Revoke link names."""
    return next((k for k in api_keys if str(k.id) == key_id and k.revoked_at is None), None)


async def _api_keys_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    created: tuple[ApiKey, str] | None = None,
    rolled: bool = False,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The keys page; `created`: a key just made (or, `rolled`, rolled to), shown once
    in a dialog that returns focus, when closed, to what the user acted on: Create API
    Key, or the rolled key's successor in its row."""
    cursor = request.query_params.get("cursor")
    # Active keys by default; All adds the revoked and expired ones, with who ended them.
    show_all = request.query_params.get("show") == "all"
    listed_here = f"{API_KEYS}?show=all" if show_all else API_KEYS
    try:
        start_after = decode_cursor(user.tenant_id, cursor) if cursor is not None else None
    except InvalidCursor:
        return redirect(request, listed_here)
    page = keyset_page(
        await auth_service.list_api_keys(
            session,
            tenant_id=user.tenant_id,
            limit=PER_PAGE + 1,
            start_after=start_after,
            listing="all" if show_all else "active",
        ),
        PER_PAGE,
        Position.of,
    )
    api_keys, older = page.items, page.next_cursor(user.tenant_id)
    values = values or {}
    choices = await key_restrictions.dataset_choices(
        session, tenant_id=user.tenant_id, chosen=values.get("dataset_id", [])
    )
    # The keys described: those listed and the one just made (or rolled to).
    described = [*api_keys, *([created[0]] if created else [])]
    pools = await key_limits.pool_choices(
        session,
        tenant_id=user.tenant_id,
        chosen=[values.get("pool_id"), *(key.pool_id for key in described)],
    )
    now = utcnow()
    # The organisation key policy: what the dialog offers under it, and the keys it expired.
    policy = await key_policy_view.api_keys_context(
        session, tenant_id=user.tenant_id, actor=user_actor(request, user), now=now
    )
    context: dict[str, Any] = policy | {
        "api_keys": api_keys,
        "now": now,
        "created": created,
        "return_focus": f"key-{created[0].id}" if created and rolled else "create-key-button",
        "errors": errors or {},
        # The create form is in a dialog: its error summary is in there too.
        "errors_in_dialog": bool(errors),
        "values": values,
        "choices": choices,
        "pools": pools,
        "periods": limit_fields.PERIODS,
        "show_create": bool(errors) or request.query_params.get("create") == "1",
        "revoking": _live_key_named(api_keys, request.query_params.get("revoke")),
        "rolling": _live_key_named(api_keys, request.query_params.get("roll")),
        "access_levels": ACCESS_LEVELS,
        "grace_choices": GRACE_CHOICES,
        "describe_scopes": describe_scopes,
        "describe_actor": describe_actor,
        "describe_limits": await key_limits.limits_said(session, described, pools),
        "older": older,
        "paged": cursor is not None,
        "show_all": show_all,
        # Nothing active: say whether revoked or expired keys are there under All.
        "any_ended": not api_keys
        and not show_all
        and bool(
            await auth_service.list_api_keys(
                session, tenant_id=user.tenant_id, limit=1, listing="all"
            )
        ),
        "listed_here": listed_here,
        "lineages": await lineage.lineages(session, tenant_id=user.tenant_id, api_keys=api_keys),
        "usage": (
            key_usage_example(request.app.state.settings, created[0].scopes, created[1])
            if created
            else None
        ),
    }
    # The page that carries a new key must never be cached or replayed.
    return render(
        request, "api_keys.html", context, user=user, status_code=status_code, no_store=True
    )


@router.get("", dependencies=[needs(roles.VIEW)])
async def api_keys_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    return await _api_keys_page(request, session, user)


CREATE_FIELDS = (
    {
        "name": FormField("key-name", "Name", noun="a name for the key"),
        "expires_at": FormField(
            "key-expires-on",
            "Expiry date",
            rewrites=(("must be in the future", "Choose a date after today"),),
        ),
    }
    | key_restrictions.FIELDS
    | key_limits.FIELDS
)
# The form's fields, in page order, as the error summary lists them.
CREATE_ORDER = (
    "key-name",
    "key-access",
    *key_restrictions.ORDER,
    *key_limits.ORDER,
    "key-expiration",
    "key-expires-on",
)


def _create_values(form: FormData) -> dict[str, Any]:
    """What the create form held, to show it again after an error."""
    names = ("name", "expiration", "expires_on", "access", *(f"scope_{r}" for r in ACCESS_LEVELS))
    return (
        {name: field(form, name) for name in names}
        | key_restrictions.values_of_form(form)
        | key_limits.values_of_form(form)
    )


@router.post("", dependencies=[needs(roles.KEYS)])
async def create_api_key(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    values = _create_values(form)
    errors: dict[str, str] = {}
    scopes: list[str] = []
    try:
        scopes = _scopes(form)
    except ValueError as exc:
        errors["key-access"] = str(exc)
    if values["expiration"] == "custom" and not values["expires_on"]:
        errors["key-expires-on"] = "Enter a date, or choose another expiration"
    restrictions, restriction_errors = key_restrictions.read(values)
    limits, limit_errors = key_limits.read(values)
    errors |= restriction_errors | limit_errors
    data = None
    try:
        data = ApiKeyCreate(
            name=values["name"],
            expires_at=_expires_at(values["expiration"], values["expires_on"]),
            scopes=scopes,
            **restrictions,
            **limits,
        )
    except ValidationError as exc:
        errors = field_messages(exc, CREATE_FIELDS) | errors
    if not errors and data is not None:
        try:
            created = await auth_service.create_api_key(
                session,
                tenant_id=user.tenant_id,
                data=data,
                actor=user_actor(request, user),
                created_by=f"user:{user.id}",
            )
        except InvalidInput as exc:  # refused before anything was written
            if exc.loc[-1] == "expires_at":  # beyond the organisation's key policy
                custom = values["expiration"] == "custom"
                rules = await key_policy.rules_of(session, user.tenant_id)
                refusal = key_policy_view.expiry_refusal(rules, now=utcnow())
                errors = {"key-expires-on" if custom else "key-expiration": refusal}
            elif exc.loc[-1] == "pool_id":  # deleted since the dialog was shown
                errors = key_limits.refusal_of(exc)
            else:
                errors = key_restrictions.refusal_of(exc)
        except PermissionDenied as exc:  # full access, which the policy keeps to owners
            errors = {"key-access": exc.detail}
        else:
            return await _api_keys_page(request, session, user, created=created, status_code=201)
    ordered = {key: errors[key] for key in CREATE_ORDER if key in errors}
    return await _api_keys_page(
        request, session, user, errors=ordered, values=values, status_code=422
    )


@router.post("/{key_id}/revoke", dependencies=[needs(roles.KEYS)])
async def revoke_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, _form: CheckedForm
) -> Response:
    try:
        revoked = await auth_service.revoke_api_key(
            session, tenant_id=user.tenant_id, key_id=key_id, actor=user_actor(request, user)
        )
    except RelayError as exc:
        return redirect(request, API_KEYS, error=exc.detail)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, revoked)
    return redirect(request, API_KEYS, flash=f"API key “{revoked.name}” revoked.")


@router.post("/{key_id}/roll", dependencies=[needs(roles.KEYS)])
async def roll_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    grace = field(form, "grace_period_seconds")
    try:
        old, new, full_key = await auth_service.rotate_api_key(
            session,
            tenant_id=user.tenant_id,
            key_id=key_id,
            grace_period_seconds=_grace(grace),
            actor=user_actor(request, user),
            created_by=f"user:{user.id}",
        )
    except RelayError as exc:
        return redirect(request, API_KEYS, error=exc.detail)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, old)
    return await _api_keys_page(
        request, session, user, created=(new, full_key), rolled=True, status_code=201
    )


@router.post("/{key_id}/suspend", dependencies=[needs(roles.KEYS)])
async def suspend_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Suspend a key: refused from its next request, on every worker, until resumed."""
    return await _set_disabled(request, session, user, key_id, form, disabled=True)


@router.post("/{key_id}/resume", dependencies=[needs(roles.KEYS)])
async def resume_api_key(
    request: Request, session: SessionDep, user: CurrentUser, key_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Resume a suspended key."""
    return await _set_disabled(request, session, user, key_id, form, disabled=False)


async def _set_disabled(
    request: Request,
    session: SessionDep,
    user: User,
    key_id: uuid.UUID,
    form: FormData,
    *,
    disabled: bool,
) -> Response:
    try:
        api_key = await auth_service.update_api_key(
            session,
            tenant_id=user.tenant_id,
            key_id=key_id,
            data=ApiKeyUpdate(disabled=disabled),
            actor=user_actor(request, user),
        )
    except RelayError as exc:
        return redirect(request, API_KEYS, error=exc.detail)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, api_key)
    said = "suspended: it is refused until you resume it" if disabled else "resumed"
    # Back to the page the button was on: the key's own, or the list.
    to = f"{API_KEYS}/{key_id}" if field(form, "back") == "key" else API_KEYS
    return redirect(request, to, flash=f"API key “{api_key.name}” {said}.")


@router.post("/leaks/{notice_id}/dismiss", dependencies=[needs(roles.KEYS)])
async def dismiss_leak_notice(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    notice_id: uuid.UUID,
    _form: CheckedForm,
) -> Response:
    await leaks_service.dismiss_notice(session, tenant_id=user.tenant_id, notice_id=notice_id)
    return redirect(request, API_KEYS, flash="Notice dismissed.")
