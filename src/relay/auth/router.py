"""Routes under /api/v1/auth: create, list and revoke API keys."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from relay.auth import service
from relay.auth.dependencies import CurrentPrincipal
from relay.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from relay.auth.verifier import KeyVerifier
from relay.db import ReadSessionDep, SessionDep

router = APIRouter(prefix="/auth/api-keys", tags=["API keys"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such key in this tenant, or already revoked"}
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    data: ApiKeyCreate, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ApiKeyCreated:
    """Create a key. The full key is in this response only: store it now."""
    api_key, full_key = await service.create_api_key(
        session,
        tenant_id=principal.tenant_id,
        data=data,
        created_by=f"api_key:{principal.key_id}",
    )
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=full_key)


@router.get("", response_model=list[ApiKeyRead])
async def list_api_keys(principal: CurrentPrincipal, session: ReadSessionDep) -> list[ApiKeyRead]:
    """List the tenant's keys that are not revoked, newest first. Keys are never shown."""
    api_keys = await service.list_api_keys(session, tenant_id=principal.tenant_id)
    return [ApiKeyRead.model_validate(api_key) for api_key in api_keys]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def revoke_api_key(
    key_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, request: Request
) -> Response:
    """Revoke a key for good; it is refused from the very next request."""
    verifier: KeyVerifier = request.app.state.verifier
    await verifier.revoke(session, tenant_id=principal.tenant_id, key_id=key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
