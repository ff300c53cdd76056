"""Scopes: what a key may do. Declared per route, where the route is declared.

`scopes: []` (the default) keeps the guide's meaning: full access to the tenant.
Otherwise a key has exactly what it lists, a `:write` scope including the `:read`
of the same resource. A route names the one scope it needs with
`dependencies=[requires(DATASETS_WRITE)]`; `scope_table(app)` lists them all (one
permission per endpoint, as GitHub's fine-grained tokens do), and a test fails for
an API route that declares none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

from fastapi import Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader

from relay.errors import RelayError

ScopeName = Literal[
    "datasets:read", "datasets:write", "api_keys:read", "api_keys:write", "audit:read",
    "webhooks:read", "webhooks:write",
]  # fmt: skip
ALL_SCOPES: tuple[str, ...] = get_args(ScopeName)
(
    DATASETS_READ, DATASETS_WRITE, API_KEYS_READ, API_KEYS_WRITE, AUDIT_READ,
    WEBHOOKS_READ, WEBHOOKS_WRITE,
) = ALL_SCOPES  # fmt: skip
# Scopes that grant more than their own name.
_INCLUDES = {
    DATASETS_WRITE: DATASETS_READ,
    API_KEYS_WRITE: API_KEYS_READ,
    WEBHOOKS_WRITE: WEBHOOKS_READ,
}
# Not a scope a key can list: what a route needs that only a full-access key (`scopes:
# []`, every dataset) may do, such as setting the rules every key is made under.
FULL_ACCESS = "full access"


class PermissionDenied(RelayError):
    """403: the key is known, but may not do this."""

    status_code = 403
    code = "permission_denied"


class InsufficientScope(PermissionDenied):
    """403: the key lacks the scope the operation needs."""

    code = "insufficient_scope"


def effective(scopes: Iterable[str]) -> frozenset[str]:
    """Everything `scopes` grants: all scopes for [], each write with its read."""
    listed = frozenset(scopes)
    if not listed:
        return frozenset(ALL_SCOPES)
    return listed | {_INCLUDES[scope] for scope in listed if scope in _INCLUDES}


def grants(scopes: Iterable[str], needed: str) -> bool:
    return needed in effective(scopes)


def within(scopes: Iterable[str], limit: Iterable[str]) -> bool:
    """True when `scopes` grant nothing that `limit` does not."""
    return effective(scopes) <= effective(limit)


def insufficient(needed: str) -> InsufficientScope:
    return InsufficientScope(f"Insufficient permissions: requires {needed}")


class RequiredScope:
    """The dependency `requires()` builds; `scope` is what the route table reads."""

    def __init__(self, scope: str) -> None:
        if scope not in ALL_SCOPES and scope != FULL_ACCESS:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    async def __call__(self, request: Request) -> None:
        # The principal was set by the API router's own dependency, which runs first.
        principal = request.state.principal
        if self.scope == FULL_ACCESS:
            if principal.scopes or principal.dataset_ids is not None:
                raise insufficient(FULL_ACCESS)
        elif not grants(principal.scopes, self.scope):
            raise insufficient(self.scope)
        # What the request needed, once granted: the key's use records it (insight.py).
        request.state.scope_used = self.scope


class NoKey:
    """The marker `public()` declares: the route takes no API key, for the reason given
    (the route table shows it, so a route without a key is never an oversight)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self) -> None:
        return None


def public(reason: str) -> DependsParam:
    """`dependencies=[public("signed leak reports")]`: the route takes no API key."""
    dependency: DependsParam = Depends(NoKey(reason))
    return dependency


def requires(scope: str) -> DependsParam:
    """`dependencies=[requires(DATASETS_WRITE)]`: the route needs this scope."""
    dependency: DependsParam = Depends(RequiredScope(scope))
    return dependency


def route_scope(route: APIRoute) -> str | None:
    """The scope a route requires, "public: <reason>" for one that takes no key, or
    None when it declares neither."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, RequiredScope):
            return dependency.call.scope
        if isinstance(dependency.call, NoKey):
            return f"public: {dependency.call.reason}"
    return None


def scope_table(app: FastAPI, prefix: str = "/api/v1/") -> list[tuple[str, str, str | None]]:
    """(method, path, scope) for every API operation; None where a route declares none."""
    table = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute) and path and path.startswith(prefix):
            table += [(method, path, route_scope(route)) for method in context.methods or ()]
    return sorted(table)


def document_scopes(
    app: FastAPI, schema: dict[str, Any], key_scheme: APIKeyHeader
) -> dict[str, Any]:
    """Write the API key scheme and each operation's scope into the OpenAPI document:
    the scope as the role of the operation's security requirement (OpenAPI 3.1 allows
    roles for API keys) and in words."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[key_scheme.scheme_name] = (
        key_scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    for method, path, scope in scope_table(app):
        if scope is None or scope.startswith("public"):
            continue
        operation = schema["paths"][path][method.lower()]
        operation["security"] = [{key_scheme.scheme_name: [scope]}]
        operation["x-required-scope"] = scope
        note = (
            "Requires a full-access key (`scopes: []`, not limited to datasets)."
            if scope == FULL_ACCESS
            else f"Requires the `{scope}` scope (or a full-access key)."
        )
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    return schema
