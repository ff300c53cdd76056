"""The `relay` command: serve the app, migrate the database, administer tenants."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.config import Settings, get_settings
from relay.db import Database
from relay.errors import RelayError
from relay.migrations import upgrade_database
from relay.observability import logging_config
from relay.tenants import service as tenants_service
from relay.tenants.models import Tenant, User

INITIAL_KEY_NAME = "Initial key"

# No pretty tracebacks: they print local variables, and a password may be one.
app = typer.Typer(
    help="Relay: multi-tenant REST API server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants (customer accounts).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")

console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]Error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


async def _has_tenants(settings: Settings) -> bool:
    database = Database(settings)
    try:
        async with database.sessionmaker() as session:
            return await tenants_service.has_tenants(session)
    finally:
        await database.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [RELAY_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [RELAY_PORT].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Apply migrations (unless --no-migrate), then serve the API."""
    settings = get_settings()
    if workers > 1 and settings.is_sqlite:
        raise _fail(
            "--workers > 1 needs PostgreSQL: on SQLite the workers could not tell each "
            "other about revoked keys. Set RELAY_DATABASE_URL=postgresql://... or use 1 worker."
        )
    if migrate:
        upgrade_database(settings)
    if not asyncio.run(_has_tenants(settings)):
        console.print(
            "No tenants yet. Create the first one with:\n"
            "  relay tenants create --name 'Acme' --email you@example.com",
            highlight=False,
        )
    with contextlib.ExitStack() as cleanup:
        if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker writes its metrics here; /metrics adds them up.
            metrics_dir = cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="relay-metrics-")
            )
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        _run_uvicorn(settings, host=host, port=port, workers=workers)


def _run_uvicorn(settings: Settings, *, host: str | None, port: int | None, workers: int) -> None:
    uvicorn.run(
        "relay.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level),
        access_log=False,  # Relay logs each request itself, as JSON
        timeout_keep_alive=settings.keep_alive_timeout,
        # Relay reads X-Forwarded-For itself, only from RELAY_TRUSTED_PROXIES.
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration, then exit."""
    upgrade_database(get_settings())
    console.print("Database is up to date.")


@dataclass(frozen=True)
class _NewTenant:
    tenant: Tenant
    owner: User
    api_key: ApiKey
    full_key: str


async def _create_tenant(settings: Settings, name: str, email: str, password: str) -> _NewTenant:
    database = Database(settings)
    try:
        async with database.sessionmaker.begin() as session:
            tenant, owner = await tenants_service.create_tenant(
                session, name=name, email=email, password=password
            )
            api_key, full_key = await auth_service.create_api_key(
                session,
                tenant_id=tenant.id,
                data=ApiKeyCreate(name=INITIAL_KEY_NAME),
                created_by=f"user:{owner.id}",
            )
            return _NewTenant(tenant=tenant, owner=owner, api_key=api_key, full_key=full_key)
    finally:
        await database.dispose()


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    email: Annotated[str, typer.Option(help="The owner's email; signs in to the dashboard.")],
    password: Annotated[
        str | None, typer.Option(help="The owner's password (prompted, hidden, when absent).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a tenant, its owner and a first API key, printed once."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        created = asyncio.run(_create_tenant(get_settings(), name, email, password))
    except RelayError as exc:
        raise _fail(exc.detail) from exc
    if as_json:
        payload = {
            "tenant_id": str(created.tenant.id),
            "user_id": str(created.owner.id),
            "api_key_id": str(created.api_key.id),
            "api_key": created.full_key,
        }
        typer.echo(json.dumps(payload))
        return
    console.print(f"Created tenant [bold]{created.tenant.name}[/bold] ({created.tenant.id})")
    console.print(f"Owner: {created.owner.email}", highlight=False)
    console.print("API key (shown once, store it now):", highlight=False)
    typer.echo(created.full_key)
