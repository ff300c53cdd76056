"""The four member roles and what each may do in the dashboard, as one table.

A dashboard page declares the permission it needs where it is declared
(`dependencies=[needs(KEYS)]`, relay.dashboard.permissions), as an API route declares
its scope; services never test a role. `role_table` prints them all.

- owner: everything, and transferring ownership (one per organisation).
- admin: everything but ownership: members and their roles, policies, keys, webhooks.
- developer: keys, datasets, webhooks; not members, policies or limit pools (whose limits
  bind full-access keys: the pool service keeps them to full access).
- viewer: reads only: keys (never a secret), datasets, the audit log, usage.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from relay.actors import Actor
from relay.auth.scopes import ALL_SCOPES

Role = Literal["owner", "admin", "developer", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
OWNER: Final[Role] = "owner"
ADMIN: Final[Role] = "admin"
DEVELOPER: Final[Role] = "developer"
VIEWER: Final[Role] = "viewer"
# What an invitation gives when the inviter does not choose.
DEFAULT_INVITED_ROLE: Final[Role] = DEVELOPER

Permission = Literal["view", "account", "keys", "datasets", "webhooks", "members", "policies",
                     "ownership"]  # fmt: skip
VIEW: Final[Permission] = "view"
ACCOUNT: Final[Permission] = "account"
KEYS: Final[Permission] = "keys"
DATASETS: Final[Permission] = "datasets"
WEBHOOKS: Final[Permission] = "webhooks"
MEMBERS: Final[Permission] = "members"
POLICIES: Final[Permission] = "policies"
OWNERSHIP: Final[Permission] = "ownership"

PERMISSIONS: Final[dict[Permission, str]] = {
    VIEW: "read every page: API keys (never a secret), datasets, the audit log, usage",
    ACCOUNT: "their own account: password, two-factor sign-in, sessions",
    KEYS: "create, change, roll, suspend and revoke API keys (limit pools: owners and admins)",
    DATASETS: "create, change and delete datasets",
    WEBHOOKS: "add, change and remove webhook endpoints",
    MEMBERS: "invite members, change roles below owner, remove members",
    POLICIES: "the key policy and the two-factor requirement",
    OWNERSHIP: "hand the organisation's ownership to another member",
}

GRANTS: Final[dict[Role, frozenset[Permission]]] = {
    OWNER: frozenset(PERMISSIONS),
    ADMIN: frozenset(PERMISSIONS) - {OWNERSHIP},
    DEVELOPER: frozenset({VIEW, ACCOUNT, KEYS, DATASETS, WEBHOOKS}),
    VIEWER: frozenset({VIEW, ACCOUNT}),
}

ROLE_NAMES: Final[dict[Role, str]] = {
    OWNER: "Owner",
    ADMIN: "Admin",
    DEVELOPER: "Developer",
    VIEWER: "Viewer",
}

# The roles a member with MEMBERS may give (ownership is handed over, never given).
ASSIGNABLE: Final[tuple[Role, ...]] = (ADMIN, DEVELOPER, VIEWER)


def as_role(value: str) -> Role:
    """A stored role; an unknown one (written by a newer version) reads as viewer, the
    role that may change nothing."""
    return next((role for role in ROLES if role == value), VIEWER)


def may(role: str, permission: Permission) -> bool:
    return permission in GRANTS[as_role(role)]


def key_scope_ceiling(role: str) -> tuple[str, ...]:
    """The scopes a key made by a member of `role` may hold at most: () (full access)
    for those who manage policies, which full-access keys can change (PUT
    /api/v1/key-policy); every scope by name for a developer, so never full access;
    a viewer makes no keys (the pages refuse it before)."""
    return () if may(role, POLICIES) else ALL_SCOPES


def member_actor(
    email: str, role: str, *, client_address: str | None, user_agent: str | None
) -> Actor:
    """A member acting in the dashboard: what their role lets the keys they make hold
    travels with them, so the services' lineage rule bounds those keys by the role."""
    return Actor.user(
        email,
        owner=role == OWNER,
        scopes=key_scope_ceiling(role),
        client_address=client_address,
        user_agent=user_agent,
    )
