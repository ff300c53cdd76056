"""`relay audit ...`: the operator's commands for the audit log."""

from __future__ import annotations

import asyncio

import typer

from relay.audit.retention import prune_expired_events
from relay.config import Settings
from relay.console import migrated_settings, one_line_errors, out
from relay.db import open_database

app = typer.Typer(help="The audit log.", no_args_is_help=True)


async def _prune(settings: Settings) -> int:
    async with open_database(settings) as database:
        return await prune_expired_events(database.sessionmaker, settings.audit_retention_days)


@app.command("prune")
def prune() -> None:
    """Delete audit events older than RELAY_AUDIT_RETENTION_DAYS (default 90).

    Each server also does it every hour."""
    with one_line_errors():
        settings = migrated_settings()
        deleted = asyncio.run(_prune(settings))
    events = f"{deleted} audit event{'' if deleted == 1 else 's'}"
    out.print(f"Deleted {events} older than {settings.audit_retention_days} days.")
