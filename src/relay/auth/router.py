"""Routes under /api/v1/auth/api-keys: create, list, read, update, rotate, revoke API
keys and read their usage. Each declares the scope it needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth import insight, service
from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.models import ApiKey
from relay.auth.schemas import (
    ApiKeyClientRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyDetail,
    ApiKeyRead,
    ApiKeyRotate,
    ApiKeyScopeUseRead,
    ApiKeyUpdate,
    ApiKeyUsageRead,
    QuotaRead,
)
from relay.auth.scopes import API_KEYS_READ, API_KEYS_WRITE, requires
from relay.auth.usage import daily_usage
from relay.auth.verifier import KeyVerifier
from relay.db import ReadSessionDep, SessionDep, utcnow
from relay.json_bodies import BoundedJsonRoute
from relay.links import next_link
from relay.openapi import error_answer
from relay.pagination import Cursor, Position, decode_cursor, keyset_page

router = APIRouter(prefix="/auth/api-keys", tags=["API keys"], route_class=BoundedJsonRoute)

_NOT_FOUND = error_answer("No such key in this tenant, or already revoked", "not_found")
# A key manages keys no broader than itself: a scope it lacks, or a laxer rate limit or
# a later expiry than its own, is refused.
_OUTRANKED = error_answer(
    "You may not: the key lacks the scope this operation requires, or the key it would "
    "make or manage is allowed more than itself",
    "insufficient_scope",
    "permission_denied",
)
_ROTATE_ERRORS = (
    _NOT_FOUND
    | _OUTRANKED
    | error_answer("The key is revoked, expired or already being rotated", "conflict")
)
_NEXT_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Link": {"$ref": "#/components/headers/Link"}}}
}
MAX_PER_PAGE = 100


async def _shown(session: AsyncSession, api_keys: Sequence[ApiKey]) -> list[ApiKeyRead]:
    """The keys as answers show them, each quota with what is left of it now."""
    status_of = await service.quota_status(session, api_keys)
    shown = []
    for api_key in api_keys:
        read = ApiKeyRead.model_validate(api_key)
        status = status_of.get(api_key.id)
        if status is not None and api_key.quota_requests and api_key.quota_period:
            read.quota = QuotaRead(
                requests=api_key.quota_requests,
                period=api_key.quota_period,
                remaining=status.remaining,
                resets_at=status.resets_at,
            )
        shown.append(read)
    return shown


async def _created(
    session: AsyncSession, api_key: ApiKey, full_key: str, response: Response
) -> ApiKeyCreated:
    response.headers["Cache-Control"] = "no-store"
    (read,) = await _shown(session, [api_key])
    return ApiKeyCreated(**dict(read), key=full_key)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=_OUTRANKED,
    dependencies=[requires(API_KEYS_WRITE)],
    operation_id="api_keys_create",
)
async def create_api_key(
    data: ApiKeyCreate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    response: Response,
) -> ApiKeyCreated:
    """Create a key. The full key is in this response only: store it now."""
    api_key, full_key = await service.create_api_key(
        session,
        tenant_id=principal.tenant_id,
        data=data,
        actor=actor,
        created_by=f"api_key:{principal.key_id}",
    )
    return await _created(session, api_key, full_key, response)


@router.get(
    "",
    response_model=list[ApiKeyRead],
    responses=_NEXT_PAGE,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="api_keys_list",
)
async def list_api_keys(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = MAX_PER_PAGE,
    cursor: Annotated[
        Cursor | None, Query(description="From the previous page's Link header.")
    ] = None,
) -> list[ApiKeyRead]:
    """List the tenant's keys that are not revoked, newest first, `per_page` at a time
    (100 at most); a `Link: <...>; rel="next"` header points to the next page. Keys
    are never shown."""
    tenant_id = principal.tenant_id
    start_after = decode_cursor(tenant_id, cursor) if cursor is not None else None
    page = keyset_page(
        await service.list_api_keys(
            session, tenant_id=tenant_id, limit=per_page + 1, start_after=start_after
        ),
        per_page,
        Position.of,
    )
    next_cursor = page.next_cursor(tenant_id)
    if next_cursor is not None:
        response.headers["Link"] = next_link(request, per_page=per_page, cursor=next_cursor)
    return await _shown(session, page.items)


@router.get(
    "/{key_id}",
    response_model=ApiKeyDetail,
    responses=_NOT_FOUND,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="api_keys_get",
)
async def get_api_key(
    key_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> ApiKeyDetail:
    """Read one key (never the key itself), with who used it in the last 24 hours and
    the scopes its requests needed in the last 30 days."""
    api_key = await service.get_api_key(session, tenant_id=principal.tenant_id, key_id=key_id)
    (read,) = await _shown(session, [api_key])
    now, of_key = utcnow(), {"tenant_id": principal.tenant_id, "key_id": key_id}
    clients = await insight.recent_clients(session, **of_key, now=now)
    used = await insight.scopes_used(session, **of_key, now=now)
    return ApiKeyDetail(
        **read.model_dump(),
        clients=[ApiKeyClientRead(**asdict(client)) for client in clients],
        scopes_used=[
            ApiKeyScopeUseRead(scope=scope, last_used_at=at) for scope, at in used.items()
        ],
        suggested_scopes=insight.narrower_scopes(api_key.scopes, used),
    )


@router.patch(
    "/{key_id}",
    response_model=ApiKeyRead,
    responses=_NOT_FOUND | _OUTRANKED,
    dependencies=[requires(API_KEYS_WRITE)],
    operation_id="api_keys_update",
)
async def update_api_key(
    key_id: uuid.UUID,
    data: ApiKeyUpdate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
) -> ApiKeyRead:
    """Change a key: its name, rate limit, quota, datasets, addresses, or suspend and
    resume it (a field sent as null removes that limit; a field not sent stays)."""
    api_key = await service.update_api_key(
        session, tenant_id=principal.tenant_id, key_id=key_id, data=data, actor=actor
    )
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, api_key)
    (read,) = await _shown(session, [api_key])
    return read


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=_ROTATE_ERRORS,
    dependencies=[requires(API_KEYS_WRITE)],
    operation_id="api_keys_rotate",
)
async def rotate_api_key(
    key_id: uuid.UUID,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
    response: Response,
    data: ApiKeyRotate | None = None,
) -> ApiKeyCreated:
    """Replace a key with a new one (same name, scopes, rate limit and expiry), shown
    once. The old key keeps working for the grace period (default 3600 s, never past
    its own expiry), then answers 401 "API key expired"."""
    old, new, full_key = await service.rotate_api_key(
        session,
        tenant_id=principal.tenant_id,
        key_id=key_id,
        grace_period_seconds=(data or ApiKeyRotate()).grace_period_seconds,
        actor=actor,
        created_by=f"api_key:{principal.key_id}",
    )
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, old)
    return await _created(session, new, full_key, response)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND | _OUTRANKED,
    dependencies=[requires(API_KEYS_WRITE)],
    operation_id="api_keys_revoke",
)
async def revoke_api_key(
    key_id: uuid.UUID,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
) -> Response:
    """Revoke a key for good; it is refused from the very next request."""
    api_key = await service.revoke_api_key(
        session, tenant_id=principal.tenant_id, key_id=key_id, actor=actor
    )
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_change(session, api_key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{key_id}/usage",
    response_model=ApiKeyUsageRead,
    responses=_NOT_FOUND,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="api_keys_usage",
)
async def get_api_key_usage(
    key_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
) -> ApiKeyUsageRead:
    """Requests made with the key per UTC day and status class, oldest day first
    (written about once a second, so the last second may not show yet)."""
    await service.get_api_key(session, tenant_id=principal.tenant_id, key_id=key_id)
    usage = await daily_usage(session, tenant_id=principal.tenant_id, key_id=key_id, days=days)
    return ApiKeyUsageRead(key_id=key_id, days=usage)
