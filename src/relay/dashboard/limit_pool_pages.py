"""Settings > Limit pools: the tenant's pools (a rate limit and a quota shared by the
keys in them) with what is left of each quota and how many keys each has; creating
one, and on its own page changing and deleting it. The rules and their audit events
are limit_pools/service.py's, as for /api/v1/limit-pools; these pages word them.
Every member manages pools, as every member manages keys (the service lets users do
so: only keys held to limits of their own may not)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from relay.auth.verifier import KeyVerifier
from relay.dashboard import limit_fields
from relay.dashboard.form_errors import FormField, field_messages
from relay.dashboard.permissions import needs
from relay.dashboard.web import CheckedForm, CurrentUser, field, redirect, render, user_actor
from relay.db import SessionDep
from relay.errors import ConflictError, NotFoundError
from relay.limit_pools import service as pools_service
from relay.limit_pools.models import LimitPool
from relay.limit_pools.schemas import LimitPoolCreate, LimitPoolUpdate
from relay.pagination import InvalidCursor, Position, decode_cursor, keyset_page
from relay.tenants import roles
from relay.tenants.models import User

LIMIT_POOLS = "/settings/limit-pools"
router = APIRouter(prefix=LIMIT_POOLS, include_in_schema=False)

PER_PAGE = 100
LIMITS = limit_fields.LimitFields("pool")
NAME = "pool-name"
# Where a refused delete is said: the Delete button.
DELETE = "pool-delete"
# The form's fields by the API's names, and their element ids in page order.
FIELDS = {"name": FormField(NAME, "Name", noun="a name for the pool")} | LIMITS.fields
ORDER = (NAME, *LIMITS.order)
RATE_HINT = (
    "At most this many requests by all its keys together in any window of this many "
    "seconds (60: a minute, 3600: an hour). Both empty: no rate limit."
)
QUOTA_HINT = (
    "Requests accepted from all its keys together per UTC day (refilled at midnight), "
    "per UTC month (on the 1st), or in all. Empty: no quota."
)


@dataclass(frozen=True)
class PoolShown:
    """A pool as the pages say it: its limits in words, its keys that are not revoked."""

    pool: LimitPool
    rate_limit: str
    quota: str
    key_count: int


async def _shown(session: AsyncSession, pools: Sequence[LimitPool]) -> list[PoolShown]:
    statuses = await pools_service.status_of(session, pools)
    shown = []
    for pool in pools:
        status = statuses[pool.id]
        quota = ""
        if pool.quota_requests is not None and status.quota_remaining is not None:
            quota = limit_fields.quota_said(
                pool.quota_requests,
                pool.quota_period or "",
                status.quota_remaining,
                status.quota_resets_at,
            )
        rate_limit = limit_fields.rate_limit_said(pool.rate_limit)
        shown.append(PoolShown(pool, rate_limit, quota, status.key_count))
    return shown


def _values_of_form(form: FormData) -> dict[str, str]:
    return {"name": field(form, "name")} | limit_fields.values_of_form(form)


def _values_of_pool(pool: LimitPool) -> dict[str, str]:
    limits = limit_fields.values_of(pool.rate_limit, pool.quota_requests, pool.quota_period)
    return {"name": pool.name} | limits


def _ordered(errors: dict[str, str]) -> dict[str, str]:
    return {key: errors[key] for key in ORDER if key in errors}


def _read(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as LimitPoolCreate and LimitPoolUpdate take it (every field: None
    removes a limit), and what the form itself finds wrong."""
    limits, errors = LIMITS.read(values)
    return {"name": values["name"]} | limits, errors


def _not_found(request: Request, user: User, exc: NotFoundError) -> HTMLResponse:
    """Another tenant's pool, or none: the same page either way."""
    context = {"title": exc.detail, "message": "No such limit pool in your organisation."}
    return render(request, "message.html", context, user=user, status_code=404)


async def _limit_pools_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    cursor = request.query_params.get("cursor")
    try:
        start_after = decode_cursor(user.tenant_id, cursor) if cursor is not None else None
    except InvalidCursor:
        return redirect(request, LIMIT_POOLS)
    page = keyset_page(
        await pools_service.list_pools(
            session, tenant_id=user.tenant_id, limit=PER_PAGE + 1, start_after=start_after
        ),
        PER_PAGE,
        Position.of,
    )
    context = {
        "pools": await _shown(session, page.items),
        "older": page.next_cursor(user.tenant_id),
        "paged": cursor is not None,
        "values": values or {},
        "errors": errors or {},
        "periods": limit_fields.PERIODS,
        "rate_hint": RATE_HINT,
        "quota_hint": QUOTA_HINT,
    }
    status_code = 422 if errors else 200
    return render(request, "limit_pools.html", context, user=user, status_code=status_code)


@router.get("", dependencies=[needs(roles.VIEW)])
async def limit_pools_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    return await _limit_pools_page(request, session, user)


@router.post("", dependencies=[needs(roles.KEYS)])
async def create_limit_pool(
    request: Request, session: SessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """Create a pool (audited as limit_pool.created); keys join it from their page."""
    values = _values_of_form(form)
    body, errors = _read(values)
    data = None
    try:
        data = LimitPoolCreate.model_validate(body)
    except ValidationError as exc:
        errors = field_messages(exc, FIELDS) | errors
    if errors or data is None:
        return await _limit_pools_page(
            request, session, user, values=values, errors=_ordered(errors)
        )
    pool = await pools_service.create_pool(
        session, tenant_id=user.tenant_id, data=data, actor=user_actor(request, user)
    )
    return redirect(request, LIMIT_POOLS, flash=f"Limit pool “{pool.name}” created.")


async def _limit_pool_page(
    request: Request,
    session: SessionDep,
    user: User,
    pool_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        pool = await pools_service.get_pool(session, tenant_id=user.tenant_id, pool_id=pool_id)
    except NotFoundError as exc:
        return _not_found(request, user, exc)
    (shown,) = await _shown(session, [pool])
    context = {
        "shown": shown,
        "pool": pool,
        "values": values or _values_of_pool(pool),
        "errors": errors or {},
        "periods": limit_fields.PERIODS,
        "rate_hint": RATE_HINT,
        "quota_hint": QUOTA_HINT,
        "confirm_delete": request.query_params.get("delete") == "1",
    }
    return render(request, "limit_pool.html", context, user=user, status_code=status_code)


@router.get("/{pool_id}", dependencies=[needs(roles.VIEW)])
async def limit_pool_page(
    request: Request, session: SessionDep, user: CurrentUser, pool_id: uuid.UUID
) -> Response:
    return await _limit_pool_page(request, session, user, pool_id)


@router.post("/{pool_id}", dependencies=[needs(roles.KEYS)])
async def update_limit_pool(
    request: Request, session: SessionDep, user: CurrentUser, pool_id: uuid.UUID, form: CheckedForm
) -> Response:
    """Rename a pool or change its limits (an empty field removes one): its keys are held
    to them from their next request, on every worker."""
    values = _values_of_form(form)
    body, errors = _read(values)
    data = None
    try:
        # Every field is sent, the name never empty: checked as a new pool's are (the
        # update's optional name would name its errors by pydantic's union members).
        data = LimitPoolUpdate.model_validate(LimitPoolCreate.model_validate(body).model_dump())
    except ValidationError as exc:
        errors = field_messages(exc, FIELDS) | errors
    if errors or data is None:
        return await _limit_pool_page(
            request, session, user, pool_id, values=values, errors=_ordered(errors), status_code=422
        )
    try:
        pool = await pools_service.update_pool(
            session,
            tenant_id=user.tenant_id,
            pool_id=pool_id,
            data=data,
            actor=user_actor(request, user),
        )
    except NotFoundError as exc:
        return _not_found(request, user, exc)
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_tagged(session, pool.id)
    return redirect(request, f"{LIMIT_POOLS}/{pool.id}", flash=f"Limit pool “{pool.name}” saved.")


@router.post("/{pool_id}/delete", dependencies=[needs(roles.KEYS)])
async def delete_limit_pool(
    request: Request, session: SessionDep, user: CurrentUser, pool_id: uuid.UUID, _form: CheckedForm
) -> Response:
    """Delete a pool no key is in (audited as limit_pool.deleted); while a key that is
    not revoked is, the pool's page says so (409) and nothing changes."""
    try:
        pool = await pools_service.get_pool(session, tenant_id=user.tenant_id, pool_id=pool_id)
        await pools_service.delete_pool(
            session, tenant_id=user.tenant_id, pool_id=pool_id, actor=user_actor(request, user)
        )
    except NotFoundError as exc:
        return _not_found(request, user, exc)
    except ConflictError as exc:
        errors = {DELETE: exc.detail}
        return await _limit_pool_page(
            request, session, user, pool_id, errors=errors, status_code=exc.status_code
        )
    return redirect(request, LIMIT_POOLS, flash=f"Limit pool “{pool.name}” deleted.")
