"""What every `relay` command shares: its settings, a migrated database, and failures
told in one line (or one JSON object) instead of a traceback.

A user's mistake (a bad RELAY_* value, a database that is down or migrated by a
newer Relay, a taken email, a short password) ends the command with exit status 1
and one line on stderr; with `--json`, `{"error": "..."}` on stdout instead. A
traceback is left for what is truly a bug.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pydantic
import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from relay.config import Settings, get_settings
from relay.errors import RelayError, is_connection_failure
from relay.migrations import SchemaError, upgrade_database

# soft_wrap: a message stays one line, whatever the terminal's width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings_problem(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    name = "RELAY_" + "_".join(str(part) for part in error["loc"]).upper()
    return f"{name}: {error['msg'].removeprefix('Value error, ')}"


def _first_line(exc: BaseException) -> str:
    """The driver's own words when SQLAlchemy wrapped them, without the SQL or links."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]


def _database_problem(exc: BaseException) -> str:
    try:
        url = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except (pydantic.ValidationError, ValueError):
        url = "the configured database"
    return f"Cannot use the database {url}: {_first_line(exc)}"


def describe_failure(exc: BaseException) -> str | None:
    """The one line that tells the user what went wrong, or None for a bug."""
    if isinstance(exc, RelayError):
        return exc.detail
    if isinstance(exc, SchemaError):
        return str(exc)
    if isinstance(exc, pydantic.ValidationError) and exc.title == Settings.__name__:
        return _settings_problem(exc)
    if isinstance(exc, DBAPIError | OSError) or is_connection_failure(exc):
        return _database_problem(exc)
    return None


@contextmanager
def one_line_errors(*, as_json: bool = False) -> Iterator[None]:
    """Turn a user's mistake raised inside the block into one line and exit status 1."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        message = describe_failure(exc)
        if message is None:
            raise
        fail(message, as_json=as_json)


def fail(message: str, *, as_json: bool = False) -> NoReturn:
    """End the command: one line on stderr (or `{"error": ...}` on stdout), exit 1."""
    if as_json:
        typer.echo(json.dumps({"error": message}))
    else:
        err.print(f"Error: {message}", markup=False)
    raise typer.Exit(code=1)


def migrated_settings() -> Settings:
    """The environment's settings, with the database migrated to this code's schema,
    as `relay serve` does: a command never meets a missing table."""
    settings = get_settings()
    upgrade_database(settings)
    return settings
