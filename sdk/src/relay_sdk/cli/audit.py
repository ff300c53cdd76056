"""`relayctl audit`: the tenant's audit log, newest first (the key needs audit:read)."""

from __future__ import annotations

from typing import Annotated

import typer

from relay_sdk.audit_events import MAX_PAGE_SIZE, AuditEvent
from relay_sdk.cli.connect import connect
from relay_sdk.cli.output import (
    AllOption,
    Columns,
    JsonOption,
    LimitOption,
    format_time,
    print_newest,
)
from relay_sdk.cli.values import parse_since

app = typer.Typer(help="Read the audit log.", no_args_is_help=True)


def _target(event: AuditEvent) -> str:
    target = event.target_name or event.target_id or ""
    return f"{event.target_type}: {target}" if event.target_type else target


_COLUMNS = Columns[AuditEvent](
    ["Time (UTC)", "Action", "Actor", "Target", "Client address"],
    lambda event: [
        format_time(event.at, seconds=True), event.action, event.actor, _target(event),
        event.client_address or "",
    ],
    uncut=("Time (UTC)",),
)  # fmt: skip


@app.command("list")
def list_events(
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. api_key.rotated.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only events since then: 24h, 7d (ago), or an ISO 8601 date or time "
            "(a date alone means its start, UTC)."
        ),
    ] = None,
    limit: LimitOption = 50,
    show_all: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """List audit events, newest first."""
    since_moment = parse_since(since) if since else None
    page_size = MAX_PAGE_SIZE if show_all else min(limit + 1, MAX_PAGE_SIZE)
    with connect() as relay:
        every = relay.audit_events.iter(page_size=page_size, action=action, since=since_moment)
        print_newest(every, _COLUMNS, limit=limit, show_all=show_all, as_json=as_json)
