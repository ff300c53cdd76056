"""Routes under /api/v1/key-policy: read the organisation key policy (`api_keys:read`)
and replace it (a full-access key only: it binds every key)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from relay.auth.dependencies import CurrentActor, CurrentPrincipal
from relay.auth.scopes import API_KEYS_READ, FULL_ACCESS, requires
from relay.db import ReadSessionDep, SessionDep
from relay.json_bodies import BoundedJsonRoute
from relay.key_policy import service
from relay.key_policy.schemas import KeyPolicyBody

router = APIRouter(prefix="/key-policy", tags=["Key policy"], route_class=BoundedJsonRoute)


@router.get(
    "",
    response_model=KeyPolicyBody,
    dependencies=[requires(API_KEYS_READ)],
    operation_id="key_policy_get",
)
async def get_key_policy(principal: CurrentPrincipal, session: ReadSessionDep) -> KeyPolicyBody:
    """The organisation key policy (its defaults, when none was set)."""
    rules = await service.rules_of(session, principal.tenant_id)
    return KeyPolicyBody(**asdict(rules))


@router.put(
    "",
    response_model=KeyPolicyBody,
    dependencies=[requires(FULL_ACCESS)],
    operation_id="key_policy_set",
)
async def set_key_policy(
    data: KeyPolicyBody, principal: CurrentPrincipal, actor: CurrentActor, session: SessionDep
) -> KeyPolicyBody:
    """Replace the organisation key policy (audited as key_policy.updated). It applies to
    keys made from now on and to unused keys; keys made before keep their expiry."""
    rules = service.Rules(**data.model_dump())
    await service.set_rules(session, tenant_id=principal.tenant_id, rules=rules, actor=actor)
    return data
