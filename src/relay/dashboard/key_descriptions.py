"""A key's permissions in words, as the keys table, the new-key dialog and a key's own
page say them (the two key page modules share it)."""

from __future__ import annotations


def describe_scopes(scopes: list[str]) -> str:
    """ "Full access", or each resource with its level: "datasets: read, audit: read"."""
    if not scopes:
        return "Full access"
    return ", ".join(scope.replace("_", " ").replace(":", ": ") for scope in scopes)
