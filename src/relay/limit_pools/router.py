"""Routes under /api/v1/limit-pools: list and read pools (`api_keys:read`), create,
change and delete them (a full-access key without limits of its own: a pool's limits
are those of every key in it, the broadest included)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.schemas import QuotaRead, RateLimit
from relay.auth.scopes import API_KEYS_READ, FULL_ACCESS, requires
from relay.auth.verifier import KeyVerifier
from relay.db import ReadSessionDep, SessionDep
from relay.json_bodies import BoundedJsonRoute
from relay.limit_pools import service
from relay.limit_pools.models import LimitPool
from relay.limit_pools.schemas import (
    LimitPoolCreate,
    LimitPoolPage,
    LimitPoolRead,
    LimitPoolUpdate,
)
from relay.openapi import error_answer
from relay.pagination import Cursor, Position, decode_cursor, keyset_page

router = APIRouter(prefix="/limit-pools", tags=["Limit pools"], route_class=BoundedJsonRoute)

_NOT_FOUND = error_answer("No such limit pool in this tenant", "not_found")
_IN_USE = error_answer("The pool still has live keys (neither revoked nor expired)", "conflict")


async def _shown(session: AsyncSession, pools: Sequence[LimitPool]) -> list[LimitPoolRead]:
    """The pools as answers show them: their live keys, and their quota's remainder."""
    statuses = await service.status_of(session, pools)
    shown = []
    for pool in pools:
        state = statuses[pool.id]
        quota = None
        if pool.quota_requests is not None and state.quota_remaining is not None:
            quota = QuotaRead(
                requests=pool.quota_requests,
                period=pool.quota_period,
                remaining=state.quota_remaining,
                resets_at=state.quota_resets_at,
            )
        limit = pool.rate_limit
        shown.append(
            LimitPoolRead(
                id=pool.id,
                name=pool.name,
                rate_limit=RateLimit(**limit) if limit else None,
                quota=quota,
                key_count=state.key_count,
                created_at=pool.created_at,
                updated_at=pool.updated_at,
            )
        )
    return shown


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LimitPoolRead,
    dependencies=[requires(FULL_ACCESS)],
    operation_id="limit_pools_create",
)
async def create_limit_pool(
    data: LimitPoolCreate, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> LimitPoolRead:
    """Create a pool; put keys in it with their `pool_id`."""
    pool = await service.create_pool(session, tenant_id=principal.tenant_id, data=data, actor=actor)
    (shown,) = await _shown(session, [pool])
    return shown


@router.get(
    "",
    response_model=LimitPoolPage,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="limit_pools_list",
)
async def list_limit_pools(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[Cursor | None, Query(description="A previous page's `next_cursor`.")] = None,
) -> LimitPoolPage:
    """List the tenant's limit pools, newest first."""
    tenant_id = principal.tenant_id
    start_after = decode_cursor(tenant_id, cursor) if cursor is not None else None
    page = keyset_page(
        await service.list_pools(
            session, tenant_id=tenant_id, limit=page_size + 1, start_after=start_after
        ),
        page_size,
        Position.of,
    )
    return LimitPoolPage(
        items=await _shown(session, page.items), next_cursor=page.next_cursor(tenant_id)
    )


@router.get(
    "/{pool_id}",
    response_model=LimitPoolRead,
    responses=_NOT_FOUND,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="limit_pools_get",
)
async def get_limit_pool(
    pool_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSessionDep
) -> LimitPoolRead:
    """Read one pool, with its quota's remainder and its number of keys."""
    pool = await service.get_pool(session, tenant_id=principal.tenant_id, pool_id=pool_id)
    (shown,) = await _shown(session, [pool])
    return shown


@router.patch(
    "/{pool_id}",
    response_model=LimitPoolRead,
    responses=_NOT_FOUND,
    dependencies=[requires(FULL_ACCESS)],
    operation_id="limit_pools_update",
)
async def update_limit_pool(
    pool_id: uuid.UUID,
    data: LimitPoolUpdate,
    principal: CurrentPrincipal,
    actor: CurrentActor,
    session: SessionDep,
    request: Request,
) -> LimitPoolRead:
    """Rename a pool or change its limits: its keys are held to them from their next
    request, on every worker."""
    pool = await service.update_pool(
        session, tenant_id=principal.tenant_id, pool_id=pool_id, data=data, actor=actor
    )
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.commit_tagged(session, pool.id)
    (shown,) = await _shown(session, [pool])
    return shown


@router.delete(
    "/{pool_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND | _IN_USE,
    dependencies=[requires(FULL_ACCESS)],
    operation_id="limit_pools_delete",
)
async def delete_limit_pool(
    pool_id: uuid.UUID, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> Response:
    """Delete a pool that no live key is in: 409 otherwise."""
    await service.delete_pool(session, tenant_id=principal.tenant_id, pool_id=pool_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
