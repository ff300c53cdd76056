"""`relay users ...`: the operator's commands for dashboard users who cannot help
themselves: a password reset link to hand over (when Relay sends no mail, or the
mail does not arrive), and turning off a lost authenticator."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from relay.accounts import passwords, two_factor
from relay.accounts.events import record_user_event
from relay.actors import SYSTEM
from relay.audit.actions import Action
from relay.config import Settings
from relay.console import migrated_settings, one_line_errors, out
from relay.db import open_database
from relay.errors import NotFoundError
from relay.links import public_url
from relay.tenants import service as tenants_service
from relay.tenants.models import User

app = typer.Typer(help="Dashboard users.", no_args_is_help=True)

EmailOption = Annotated[str, typer.Option(help="The user's email (any case).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


async def _user(session: AsyncSession, email: str) -> User:
    user = await tenants_service.find_user(session, email)
    if user is None:
        raise NotFoundError(f"No user has the email {email}")
    return user


async def _reset_link(settings: Settings, email: str) -> tuple[str, datetime]:
    async with open_database(settings) as database, database.sessionmaker.begin() as session:
        user = await _user(session, email)
        token, expires_at = await passwords.create_reset_token(session, user=user)
        record_user_event(session, user, Action.USER_PASSWORD_RESET_LINK_CREATED, SYSTEM)
    return public_url(settings, f"/reset-password/{token}"), expires_at


async def _remove_two_factor(settings: Settings, email: str) -> None:
    async with open_database(settings) as database, database.sessionmaker.begin() as session:
        user = await _user(session, email)
        await two_factor.remove(session, user=user, actor=SYSTEM)


@app.command("reset-password")
def reset_password(email: EmailOption, as_json: JsonOption = False) -> None:
    """Print a single-use link (30 minutes) with which the user chooses a new password.

    Hand it over privately: whoever follows it owns the account. Migrates first."""
    with one_line_errors(as_json=as_json):
        settings = migrated_settings()
        link, expires_at = asyncio.run(_reset_link(settings, email))
    if as_json:
        typer.echo(json.dumps({"link": link, "expires_at": expires_at.isoformat()}))
        return
    until = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    out.print(f"Reset link (works once, until {until}; earlier links stop):", markup=False)
    typer.echo(link)


@app.command("disable-two-factor")
def disable_two_factor(email: EmailOption, as_json: JsonOption = False) -> None:
    """Turn off a user's two-factor sign-in (a lost phone and lost recovery codes).

    If their organisation requires it, they set it up again at their next sign-in."""
    with one_line_errors(as_json=as_json):
        settings = migrated_settings()
        asyncio.run(_remove_two_factor(settings, email))
    if as_json:
        typer.echo(json.dumps({"two_factor": "off"}))
        return
    out.print(f"Two-factor sign-in is off for {email}.", markup=False)
