"""`relay tenants ...`: the operator's commands for customer accounts."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.markup import escape

from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.config import Settings
from relay.console import err, fail, migrated_settings, one_line_errors, out
from relay.db import open_database
from relay.tenants import service as tenants_service
from relay.tenants.models import Tenant, User

INITIAL_KEY_NAME = "Initial key"
COMMAND_LINE_WARNING = (
    "Warning: --password is visible to other users of this machine (ps, /proc) and stays "
    "in your shell history; prefer --password-stdin or the prompt."
)

app = typer.Typer(help="Tenants (customer accounts).", no_args_is_help=True)


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: User
    api_key: ApiKey
    full_key: str


async def create_tenant_with_key(
    settings: Settings, *, name: str, email: str, password: str
) -> NewTenant:
    """A tenant, its owner and a first API key, in one transaction."""
    async with open_database(settings) as database, database.sessionmaker.begin() as session:
        tenant, owner = await tenants_service.create_tenant(
            session, name=name, email=email, password=password
        )
        api_key, full_key = await auth_service.create_api_key(
            session,
            tenant_id=tenant.id,
            data=ApiKeyCreate(name=INITIAL_KEY_NAME),
            actor=SYSTEM,
            created_by=f"user:{owner.id}",
        )
        return NewTenant(tenant=tenant, owner=owner, api_key=api_key, full_key=full_key)


def read_password(password: str | None, password_stdin: bool, *, as_json: bool) -> str:
    """The password from stdin's first line, the option (with a warning), or a hidden prompt."""
    if password_stdin:
        if password is not None:
            fail("Use either --password or --password-stdin, not both", as_json=as_json)
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        err.print(COMMAND_LINE_WARNING, markup=False)
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The organisation's name.")],
    email: Annotated[str, typer.Option(help="The owner's email; signs in to the dashboard.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="The owner's password. Visible to other local users: prefer --password-stdin "
            "or the prompt."
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a tenant, its owner and a first API key, printed once.

    Migrates first. Without --password or --password-stdin, prompts for the password (hidden)."""
    secret = read_password(password, password_stdin, as_json=as_json)
    with one_line_errors(as_json=as_json):
        tenants_service.check_password(secret)
        settings = migrated_settings()
        created = asyncio.run(
            create_tenant_with_key(settings, name=name, email=email, password=secret)
        )
    if as_json:
        payload = {
            "tenant_id": str(created.tenant.id),
            "user_id": str(created.owner.id),
            "api_key_id": str(created.api_key.id),
            "api_key": created.full_key,
        }
        typer.echo(json.dumps(payload))
        return
    out.print(f"Created tenant [bold]{escape(created.tenant.name)}[/bold] ({created.tenant.id})")
    out.print(f"Owner: {created.owner.email}", markup=False)
    out.print("API key (shown once, store it now):")
    typer.echo(created.full_key)
