"""How relayctl speaks: Rich tables for people, JSON for scripts, one-line errors, exit codes."""

from __future__ import annotations

import enum
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from relay_sdk.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    ValidationError,
)
from relay_sdk.models import to_json

# Piped output is not wrapped at Rich's default 80 columns: a table's rows stay whole lines.
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 1000)
stderr = Console(stderr=True, highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")]
AllOption = Annotated[bool, typer.Option("--all", help="Show every one.")]
ItemT = TypeVar("ItemT")


class ExitCode(enum.IntEnum):
    """relayctl's exit statuses; `relayctl scan` uses 1 for "keys found"."""

    OK = 0
    OTHER = 1
    USAGE = 2
    AUTHENTICATION = 3
    NOT_FOUND = 4
    VALIDATION = 5
    CONNECTION = 6
    RATE_LIMITED = 7


_EXIT_CODES: Sequence[tuple[type[RelayError], ExitCode]] = (
    (AuthenticationError, ExitCode.AUTHENTICATION),
    (PermissionDeniedError, ExitCode.AUTHENTICATION),
    (NotFoundError, ExitCode.NOT_FOUND),
    (ValidationError, ExitCode.VALIDATION),
    (RelayConnectionError, ExitCode.CONNECTION),
    (RateLimitError, ExitCode.RATE_LIMITED),
)


class CommandError(Exception):
    """A failure to report in one line on stderr, ending relayctl with `code`."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(error: RelayError) -> ExitCode:
    return next((code for kind, code in _EXIT_CODES if isinstance(error, kind)), ExitCode.OTHER)


def describe_error(error: RelayError) -> str:
    """One line: what went wrong, and the request id to find it in the server's log."""
    message = str(error).replace("\n", " ")
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        message += f"; retry after {error.retry_after:.0f} s"
    if error.request_id:
        message += f" (request id {error.request_id})"
    return message


def report_error(message: str) -> None:
    stderr.print(f"relayctl: error: {message}", markup=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Models (or lists of them) in the API's own JSON shape, on stdout."""
    sys.stdout.write(json.dumps(to_json(value), indent=2) + "\n")


def print_done(message: str, result: dict[str, Any], *, as_json: bool) -> None:
    """What a command did: `message` for people, `result` as JSON for scripts."""
    if as_json:
        print_json(result)
    else:
        stdout.print(message, markup=False)


def format_time(value: datetime | None, *, none: str = "never", seconds: bool = False) -> str:
    time_format = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return value.astimezone(UTC).strftime(time_format) if value else none


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, uncut: Sequence[str] = ("ID",)
) -> None:
    """A table on stdout; the `uncut` columns (ids people copy) are never shortened."""
    rows = list(rows)
    table = Table()
    for index, column in enumerate(columns):
        if column in uncut:
            widest = max((len(row[index]) for row in rows), default=len(column))
            table.add_column(column, no_wrap=True, min_width=widest)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


@dataclass(frozen=True)
class Columns(Generic[ItemT]):
    """How a list shows as a table: the column names, each item's row, and the columns
    never shortened (ids people copy)."""

    names: Sequence[str]
    row: Callable[[ItemT], Sequence[str]]
    uncut: Sequence[str] = ("ID",)


def print_list(items: Sequence[ItemT], columns: Columns[ItemT], *, as_json: bool) -> None:
    """`items` as JSON for scripts, or as a table for people."""
    if as_json:
        print_json(items)
    else:
        print_table(columns.names, (columns.row(item) for item in items), uncut=columns.uncut)


def print_newest(
    items: Iterable[ItemT], columns: Columns[ItemT], *, limit: int, show_all: bool, as_json: bool
) -> None:
    """The first `limit` items (every one with `show_all`) as print_list shows them, and a
    note on stderr when some were left out: one more than shown is read, to know, and no
    page beyond it is fetched."""
    found = list(items if show_all else itertools.islice(items, limit + 1))
    print_list(found if show_all else found[:limit], columns, as_json=as_json)
    if not show_all and len(found) > limit:
        stderr.print(f"Showing the newest {limit}; --limit N or --all for more.")


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """One object as a two-column table: field, value."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields:
        table.add_row(name, value)
    stdout.print(table)
