"""FastAPI glue for authentication: the X-API-Key security scheme and CurrentPrincipal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from relay import metrics
from relay.auth.limits import FailureLimiter, TooManyFailures
from relay.auth.principal import Principal
from relay.auth.usage import UsageRecorder
from relay.auth.verifier import KeyVerifier, invalid_key
from relay.clients import client_address
from relay.errors import AuthenticationError

API_KEY_HEADER = "X-API-Key"

# Declared as a security scheme so /docs shows "Authorize" for X-API-Key.
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="A key of your tenant, e.g. rl_live_… (create one in Settings > API Keys).",
)


async def get_principal(
    request: Request, api_key: Annotated[str | None, Security(api_key_scheme)]
) -> Principal:
    """Authenticate the request by its X-API-Key header; 401 otherwise, 429 after
    too many failures from the same address."""
    limiter: FailureLimiter = request.app.state.auth_failures
    address = client_address(request, request.app.state.settings.trusted_proxies)
    try:
        limiter.check(address)
    except TooManyFailures:
        metrics.AUTH_FAILURES.labels("rate_limited").inc()
        raise
    verifier: KeyVerifier = request.app.state.verifier
    try:
        # Two X-API-Key headers are ambiguous: refuse rather than pick one.
        if len(request.headers.getlist(API_KEY_HEADER)) > 1:
            raise invalid_key()
        principal = await verifier.verify(api_key)
    except AuthenticationError as refused:
        metrics.AUTH_FAILURES.labels(refused.reason).inc()
        limiter.record_failure(address)
        raise
    usage: UsageRecorder = request.app.state.usage
    usage.record(principal.key_id)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
