"""What each dashboard page needs of the member's role, declared where the page is
declared, as API routes declare their scope:

    @router.post("/{key_id}/revoke", dependencies=[needs(KEYS)])

`needs(permission)` refuses a member whose role lacks it (relay.tenants.roles) with
403 before the page runs, so nothing changes; `signed_out(reason)` marks a page
anyone may open (sign-in, sign-up, links from mail). `role_table` lists every page
with what it needs, and a test fails for a page that declares nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute, iter_route_contexts

from relay.accounts.sessions import SignedIn
from relay.dashboard.web import current_sign_in
from relay.errors import RelayError
from relay.tenants import roles

# The API's own routes (declared by scope), its documents and the server's probes.
NOT_PAGES = ("/api", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics")


class RoleRefused(RelayError):
    status_code = 403
    code = "role_refused"


def refusal(role: str, permission: roles.Permission) -> str:
    name = roles.ROLE_NAMES[roles.as_role(role)]
    return (
        f"Your role ({name}) cannot {roles.PERMISSIONS[permission]}: ask an owner or an "
        "admin of your organisation."
    )


class NeedsPermission:
    """The dependency `needs()` builds; `permission` is what the role table reads."""

    def __init__(self, permission: roles.Permission) -> None:
        if permission not in roles.PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        self.permission = permission

    async def __call__(
        self, request: Request, signed: Annotated[SignedIn, Depends(current_sign_in)]
    ) -> None:
        if not roles.may(signed.user.role, self.permission):
            raise RoleRefused(refusal(signed.user.role, self.permission))


class OwnAccount:
    """`needs(ACCOUNT)`: what every role may do to its own account. Nothing to check
    beyond the page's own sign-in (which the two-factor set-up takes before the
    requirement applies, so it cannot be this dependency's)."""

    permission: roles.Permission = roles.ACCOUNT

    async def __call__(self) -> None:
        return None


class SignedOut:
    """The marker `signed_out()` declares: a page for people not signed in."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self) -> None:
        return None


def needs(permission: roles.Permission) -> DependsParam:
    call = OwnAccount() if permission == roles.ACCOUNT else NeedsPermission(permission)
    dependency: DependsParam = Depends(call)
    return dependency


def signed_out(reason: str) -> DependsParam:
    dependency: DependsParam = Depends(SignedOut(reason))
    return dependency


def _declared(dependant: Dependant) -> str | None:
    for dependency in dependant.dependencies:
        call = dependency.call
        if isinstance(call, NeedsPermission | OwnAccount):
            return call.permission
        if isinstance(call, SignedOut):
            return f"signed out: {call.reason}"
    return None


def role_table(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) for every dashboard page: not the API, its documents,
    health or metrics (those are the API's, declared by scope). None: nothing declared."""
    table = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if not isinstance(route, APIRoute) or not path or path.startswith(NOT_PAGES):
            continue
        declared = _declared(route.dependant)
        table += [(method, path, declared) for method in context.methods or ()]
    return sorted(table)
