"""How relayctl shows a key: a row of `keys list`, the fields of one key, and what only
its own read (`keys get`) holds: who used it in the last 24 hours, the scopes its
requests needed in 30 days and the narrower set the server suggests."""

from __future__ import annotations

from collections.abc import Sequence

from relay_sdk.api_keys import ApiKey, ApiKeyDetail, KeyClient, ScopeUse
from relay_sdk.cli.output import (
    Columns,
    format_time,
    print_fields,
    print_json,
    print_list,
    print_note,
)
from relay_sdk.cli.values import format_quota, format_rate_limit


def _scopes(key: ApiKey) -> str:
    return ", ".join(key.scopes) or "(all)"


def key_status(key: ApiKey) -> str:
    return "suspended" if key.disabled else "active"


KEY_COLUMNS = Columns[ApiKey](
    ["ID", "Name", "Prefix", "Status", "Scopes", "Rate limit", "Created (UTC)", "Expires",
     "Last used"],
    lambda key: [
        key.id, key.name, key.key_prefix, key_status(key), _scopes(key),
        format_rate_limit(key.rate_limit), format_time(key.created_at),
        format_time(key.expires_at), format_time(key.last_used_at),
    ],
    uncut=("ID", "Prefix"),
)  # fmt: skip
_CLIENTS = Columns[KeyClient](
    ["Address", "User agent", "Requests", "Last seen (UTC)"],
    lambda client: [
        client.address, client.user_agent or "(none sent)", str(client.requests),
        format_time(client.last_seen, seconds=True),
    ],
    uncut=("Address",),
)  # fmt: skip


def _key_fields(key: ApiKey) -> list[tuple[str, str]]:
    return [
        ("id", key.id),
        ("name", key.name),
        ("prefix", key.key_prefix),
        ("status", key_status(key)),
        ("scopes", _scopes(key)),
        ("rate limit", format_rate_limit(key.rate_limit)),
        ("quota", format_quota(key.quota)),
        ("datasets", ", ".join(key.dataset_ids) if key.dataset_ids is not None else "(all)"),
        ("addresses", ", ".join(key.allowed_ips) if key.allowed_ips is not None else "(any)"),
        ("limit pool", key.pool_id or "(none)"),
        ("created (UTC)", format_time(key.created_at)),
        ("expires (UTC)", format_time(key.expires_at)),
        ("last used (UTC)", format_time(key.last_used_at)),
    ]


def show_key(key: ApiKey, *, as_json: bool) -> None:
    """One key, as JSON or as fields."""
    if as_json:
        print_json(key)
    else:
        print_fields(_key_fields(key))


def _scopes_used(uses: Sequence[ScopeUse]) -> str:
    shown = (f"{use.scope} (last {format_time(use.last_used_at)})" for use in uses)
    return ", ".join(shown) or "none"


def show_key_detail(key: ApiKeyDetail, *, as_json: bool) -> None:
    """A key's own read: its fields, the scopes it needed and the narrower set suggested,
    then a table of its clients in the last 24 hours (when it had any)."""
    if as_json:
        print_json(key)
        return
    suggested = key.suggested_scopes
    print_fields(
        [
            *_key_fields(key),
            ("scopes used (30 d)", _scopes_used(key.scopes_used)),
            ("suggested scopes", "(none narrower)" if suggested is None else ", ".join(suggested)),
            ("clients (24 h)", str(len(key.clients)) if key.clients else "none"),
        ]
    )
    if key.clients:
        print_list(key.clients, _CLIENTS, as_json=False)
    if suggested is not None:
        print_note(
            f"In 30 days the key needed fewer scopes than it holds: {', '.join(suggested)} "
            "would do. Its page in the dashboard narrows it in one click."
        )
