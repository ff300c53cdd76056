"""A key's permissions in words, as the keys table, the new-key dialog and a key's own
page say them (the two key page modules share it), and how to use a new key."""

from __future__ import annotations

from relay.auth.scopes import grants
from relay.config import Settings
from relay.links import public_url


def describe_scopes(scopes: list[str]) -> str:
    """ "Full access", or each resource with its level: "datasets: read, audit: read"."""
    if not scopes:
        return "Full access"
    return ", ".join(scope.replace("_", " ").replace(":", ": ") for scope in scopes)


# A first request a new key may make: the first of these lists its scopes may read.
FIRST_REQUESTS = (
    ("datasets:read", "/api/v1/datasets"),
    ("api_keys:read", "/api/v1/auth/api-keys"),
    ("audit:read", "/api/v1/audit-events"),
)


def key_usage_example(settings: Settings, scopes: list[str], full_key: str) -> str:
    """How to use a new key, as the new-key dialog shows it: the environment variable
    the SDK and relayctl read, and a curl of a list the key may read, at the address
    Relay hands out in its links."""
    path = next(
        (path for scope, path in FIRST_REQUESTS if grants(scopes, scope)), "/api/v1/datasets"
    )
    return (
        f"export RELAY_API_KEY={full_key}\n"
        f'curl {public_url(settings, path)} -H "X-API-Key: $RELAY_API_KEY"'
    )


def describe_actor(label: str | None) -> str:
    """Who did something (Actor.label, as the audit log keeps it) in words: a user's
    email, "API key rl_live_ab12…", "a leak report (github)", "Relay"."""
    kind, _, name = (label or "").partition(":")
    if kind == "user":
        return name
    if kind == "api_key":
        return f"API key {name}…"
    if kind == "leak-report":
        return f"a leak report ({name})"
    return "Relay" if kind == "system" else label or "unknown"
