"""FastAPI glue for authentication: the X-API-Key security scheme, CurrentPrincipal,
and the Actor a key acts as."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from relay import metrics
from relay.actors import Actor
from relay.auth import restrictions
from relay.auth.activity import KeyActivity
from relay.auth.principal import Principal
from relay.auth.scopes import PermissionDenied
from relay.auth.verifier import ExpiredKey, KeyVerifier, invalid_key
from relay.clients import client_address
from relay.errors import AuthenticationError
from relay.limits.policy import Limits

API_KEY_HEADER = "X-API-Key"
ADDRESS_NOT_ALLOWED = "API key not allowed from this address"


class AddressNotAllowed(PermissionDenied):
    """403: the key may not be used from this address (its `allowed_ips`)."""

    code = "address_not_allowed"


# Declared as a security scheme so /docs shows "Authorize" for X-API-Key.
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="A key of your tenant, e.g. rl_live_… (create one in Settings > API Keys).",
)


async def get_principal(request: Request) -> Principal:
    """Authenticate the request by its X-API-Key header: 401 otherwise (429 once its
    address has failed too often), 429 when the key is over its own rate limit.

    The header is read here rather than through `Security(api_key_scheme)`: that
    sub-dependency cost every API request about 30 µs of FastAPI's dependency solving;
    `scopes.document_scopes` declares the scheme in the OpenAPI document instead."""
    state = request.app.state
    address = client_address(request, state.settings.trusted_proxies)
    request.state.client_address = address
    limits: Limits = state.limits
    verifier: KeyVerifier = state.verifier
    try:
        presented = request.headers.getlist(API_KEY_HEADER)
        # Two X-API-Key headers are ambiguous: refuse rather than pick one.
        if len(presented) > 1:
            raise invalid_key()
        principal = await verifier.verify(presented[0] if presented else None)
    except AuthenticationError as refused:
        if isinstance(refused, ExpiredKey):
            activity: KeyActivity = state.activity
            user_agent = request.headers.get("user-agent")
            activity.record_expired_use(refused.principal, address, user_agent)
        # Over the limit, the refusal is a 429 and counted as rate_limited instead.
        await limits.after_failure(address)
        metrics.AUTH_FAILURES.labels(refused.reason).inc()
        raise
    request.state.principal = principal  # counted in the key's usage, refused or not
    if not restrictions.allows(principal.allowed_networks, address):
        activity = state.activity
        activity.record_refused_address(principal, address, request.headers.get("user-agent"))
        request.state.address_refused = True
        raise AddressNotAllowed(ADDRESS_NOT_ALLOWED)
    request.state.rate_limit_headers = await limits.check_key(
        principal.limit_windows,
        principal.families[0] if principal.families else None,
        principal.quotas,
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def current_actor(request: Request, principal: CurrentPrincipal) -> Actor:
    """The key as the actor of what the request does (permissions, audit log)."""
    return Actor.api_key(
        principal.key_prefix,
        scopes=principal.scopes,
        expires_at=principal.expires_at,
        rate_limit=principal.rate_limit,
        dataset_ids=principal.dataset_ids,
        allowed_networks=principal.allowed_networks,
        quota=principal.own_quota,
        pool_id=principal.pool_id,
        client_address=request.state.client_address,
        user_agent=request.headers.get("user-agent"),
    )


CurrentActor = Annotated[Actor, Depends(current_actor)]
