"""The `relay` command: serve the app, migrate the database, administer tenants,
dashboard users and the audit log.

Each domain keeps its own commands (`relay.tenants.commands`); this module serves,
migrates, backs up (relay.backups), and gathers them. Failures a user can cause are one
line (relay.console), usage mistakes too (a missing or unknown option: `main`). Exit
statuses: 0, 1 for a user's mistake, 2 for a usage mistake, CANNOT_LISTEN when `serve`
cannot bind its address.
"""

from __future__ import annotations

import asyncio
import errno
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

# Typer 0.29 carries its own Click; its usage errors are raised from there.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from relay import backups, serving
from relay.accounts import commands as accounts_commands
from relay.audit import commands as audit_commands
from relay.config import Settings, get_settings
from relay.console import err, fail, migrated_settings, one_line_errors, out
from relay.db import open_database
from relay.invocation import invoked_as
from relay.migrations import require_current_schema
from relay.secret_key import new_secret_key
from relay.tenants import commands as tenants_commands
from relay.tenants import roles
from relay.tenants import service as tenants_service

# No pretty tracebacks: they print local variables, and a password may be one.
app = typer.Typer(
    help="Relay: multi-tenant REST API server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
APP = "relay.app:create_app"
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenants_commands.app, name="tenants")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(accounts_commands.app, name="users")
# `relay serve` could not bind its address (the port is taken, say): one line, this status.
CANNOT_LISTEN = 4


def _print_version(shown: bool) -> None:
    if shown:
        typer.echo(f"relay {metadata.version('relay')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Relay: multi-tenant REST API server."""


async def _has_tenants(settings: Settings) -> bool:
    async with open_database(settings) as database, database.sessionmaker() as session:
        return await tenants_service.has_tenants(session)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [RELAY_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [RELAY_PORT].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Apply migrations (unless --no-migrate), then serve the API."""
    with one_line_errors():
        settings = get_settings()
        if workers > 1 and settings.is_sqlite:
            fail(
                "--workers > 1 needs PostgreSQL: on SQLite the workers could not tell each "
                "other about revoked keys. Set RELAY_DATABASE_URL=postgresql://... or use 1 worker."
            )
        if migrate:
            migrated_settings()
        else:
            require_current_schema(settings)
        has_tenants = asyncio.run(_has_tenants(settings))
    notes = () if has_tenants else (_first_tenant_hint(settings),)
    try:
        serving.serve(
            APP,
            settings,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            notes=notes,
        )
    except serving.CannotListen as exc:
        taken = isinstance(exc.__cause__, OSError) and exc.__cause__.errno == errno.EADDRINUSE
        advice = " (another port: --port, or RELAY_PORT)" if taken else ""
        err.print(f"Error: {exc}{advice}", markup=False)
        raise typer.Exit(CANNOT_LISTEN) from None
    except serving.CannotServe as exc:
        fail(str(exc))


def _first_tenant_hint(settings: Settings) -> str:
    create = f"{invoked_as()} tenants create --name 'Acme' --email you@example.com"
    if settings.allow_signup:
        return f"No tenants yet: sign up in the dashboard, or create the first one with {create}"
    return f"No tenants yet: create the first one with {create}"


@app.command("secret-key")
def secret_key() -> None:
    """Print a new random key for RELAY_SECRET_KEY (256 bits)."""
    typer.echo(new_secret_key())


@app.command("roles")
def roles_command(
    pages: Annotated[
        bool, typer.Option("--pages", help="Also list every dashboard page and what it needs.")
    ] = False,
) -> None:
    """Print what each member role may do in the dashboard.

    Owner, admin, developer and viewer, by permission; --pages adds what each page needs."""
    grid = Table(title="Member roles", show_lines=False)
    grid.add_column("Permission")
    for role in roles.ROLES:
        grid.add_column(roles.ROLE_NAMES[role], justify="center")
    grid.add_column("Lets a member")
    for permission, said in roles.PERMISSIONS.items():
        marks = ["yes" if permission in roles.GRANTS[role] else "-" for role in roles.ROLES]
        grid.add_row(permission, *marks, said)
    out.print(grid)
    if pages:
        from relay.app import create_app  # the pages are the app's: build it to list them
        from relay.dashboard.permissions import role_table

        table = Table(title="Dashboard pages")
        for column in ("Method", "Page", "Needs"):
            table.add_column(column)
        for method, path, needed in role_table(create_app(get_settings())):
            table.add_row(method, path, needed or "NOTHING DECLARED")
        out.print(table)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration, then exit."""
    with one_line_errors():
        migrated_settings()
    out.print("Database is up to date.")


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
) -> None:
    """Copy the SQLite database to PATH, consistently, while the server runs.

    Exit status 1 on PostgreSQL, with the pg_dump command to run instead (no password)."""
    with one_line_errors():
        try:
            made = backups.back_up(get_settings(), path, force=force)
        except backups.BackupError as exc:
            fail(str(exc))
    revision = made.revision or "none: not a Relay database"
    said = f"Backed up to {made.path} ({made.size:,} bytes, schema revision {revision})."
    out.print(said, markup=False)  # a path may hold [brackets]: no Rich markup


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="The backup to restore.")],
) -> None:
    """Put the backup PATH in place of the SQLite database; the server must be stopped.

    Keeps the database as it was as DATABASE.before-restore-TIME. Refuses a newer Relay's backup."""
    with one_line_errors():
        try:
            restored = backups.restore(get_settings(), path)
        except backups.BackupError as exc:
            fail(str(exc))
    said = [f"Restored {path} into {restored.database} (schema revision {restored.revision})."]
    if restored.kept is not None:
        said.append(f"The database as it was is kept as {restored.kept}.")
    if restored.needs_upgrade:
        said.append(
            f"The backup's schema is older than this Relay's ({restored.head}): run "
            f"`{invoked_as()} db upgrade` before serving (`{invoked_as()} serve` does it too)."
        )
    out.print("\n".join(said), markup=False)


def main() -> None:
    """The `relay` console script: the commands above, with a usage mistake (a missing
    or unknown option, a bad value) told in one line on stderr, or as `{"error": ...}`
    with --json, and exit status 2 (Click's own answer is a framed box)."""
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError:
        app()  # `relay` or a group alone: Typer's help screen, as always
    except UsageError as exc:
        message = exc.format_message()
        if "--json" in sys.argv[1:]:
            typer.echo(json.dumps({"error": message}))
        else:
            # The command path begins with the program's name: the way to run it instead.
            command = exc.ctx.command_path.partition(" ")[2] if exc.ctx else ""
            see = " ".join(filter(None, (invoked_as(), command, "--help")))
            stop = "" if message.endswith("?") else "."  # "Did you mean 'serve'?" stays
            err.print(f"Error: {message.rstrip('.')}{stop} See '{see}'.", markup=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.", markup=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
