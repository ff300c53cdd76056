"""`relayctl keys`: create, list and revoke the tenant's API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer

from relay_sdk.api_keys import ApiKey, CreatedApiKey
from relay_sdk.cli.connect import connect
from relay_sdk.cli.output import (
    JsonOption,
    format_time,
    print_done,
    print_fields,
    print_json,
    print_table,
    stderr,
    stdout,
)

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

_DURATION = re.compile(r"(\d+)([mhdw])")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m` or `2w` as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise typer.BadParameter("expected a number and a unit: 30m, 12h, 90d or 2w")
    amount, unit = match.groups()
    return timedelta(**{_DURATION_UNITS[unit]: int(amount)})


def parse_expiry(text: str) -> datetime:
    """ISO 8601; a date alone means the end of that day, and no offset means UTC."""
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", text.strip()):
            day = datetime.fromisoformat(text.strip()).date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter("expected an ISO 8601 date or time, e.g. 2030-12-31") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    if expires_in and expires_at:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    if expires_in:
        return datetime.now(UTC) + parse_duration(expires_in)
    return parse_expiry(expires_at) if expires_at else None


def _print_created(created: CreatedApiKey) -> None:
    print_fields(
        [
            ("id", created.id),
            ("name", created.name),
            ("scopes", ", ".join(created.scopes) or "(all)"),
            ("expires (UTC)", format_time(created.expires_at)),
        ]
    )
    stdout.print(created.key, markup=False, soft_wrap=True)
    stderr.print("Store the key now: it is not shown again.")


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime: 30m, 12h, 90d or 2w.", show_default=False)
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(help="ISO 8601 date or time; a date alone means its end (UTC)."),
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="A scope to limit the key to; repeat for more.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print the key alone, for $(...).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it: the only time it is shown."""
    if quiet and as_json:
        raise typer.BadParameter("give --quiet or --json, not both")
    expiry = _expiry(expires_in, expires_at)
    with connect() as relay:
        created = relay.api_keys.create(name, expires_at=expiry, scopes=scope or ())
    if quiet:
        typer.echo(created.key)
    elif as_json:
        print_json(created)
    else:
        _print_created(created)


def _key_row(key: ApiKey) -> list[str]:
    return [
        key.id,
        key.name,
        key.key_prefix,
        ", ".join(key.scopes) or "(all)",
        format_time(key.created_at),
        format_time(key.expires_at),
        format_time(key.last_used_at),
    ]


@app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List the keys that are not revoked, newest first (never the keys themselves)."""
    with connect() as relay:
        api_keys = relay.api_keys.list()
    if as_json:
        print_json(api_keys)
        return
    columns = ["ID", "Name", "Prefix", "Scopes", "Created (UTC)", "Expires", "Last used"]
    print_table(columns, (_key_row(key) for key in api_keys), uncut=("ID", "Prefix"))


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (keys list).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a key for good: it is refused from the very next request."""
    with connect() as relay:
        relay.api_keys.revoke(key_id)
    print_done(f"Revoked key {key_id}.", {"id": key_id, "revoked": True}, as_json=as_json)
