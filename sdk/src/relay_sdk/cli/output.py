"""Everything relayctl writes, and the one module that may write it: tables and field
lists for people, JSON for scripts, lines and notes, one-line errors, and exit codes.

Every string is treated as data, whoever wrote it (the server, a file name, git,
Click or relayctl itself):

- nothing is read as Rich markup, emoji codes or highlighted: each cell reaches Rich as
  a `Text` (a str cell is parsed as markup, and `[/bold] oops` raised MarkupError);
  lines and notes are written to the stream directly, without Rich;
- no character that could steer the terminal is sent (C0 and C1 controls, DEL, bidi
  marks, line separators, lone surrogates): relay_sdk.escapes writes each as a Python
  string literal writes it, `\\t`, `\\n`, `\\r`, `\\xNN` below U+0100 (`\\x1b`),
  `\\uNNNN` above (`\\u202e`); a backslash stays as it is (see there for why);
- a character the terminal's encoding lacks is written as such an escape too
  (prepare_streams), not a UnicodeEncodeError;
- JSON is written with ensure_ascii, so it is printable ASCII only: control, C1 and
  bidi characters are `\\u` escapes, which any JSON reader reads back exactly.

tests/sdk/test_output_is_the_only_writer.py fails when any other module of relay_sdk
prints, writes to sys.stdout or sys.stderr, uses Rich or Click's echo, or runs a
program that could write to the terminal itself. What Typer still writes is its help
screens and shell completion: relayctl's own text, never data.
"""

from __future__ import annotations

import enum
import io
import itertools
import json
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TextIO, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from relay_sdk.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RelayConnectionError,
    RelayError,
    ValidationError,
)
from relay_sdk.escapes import escape_controls
from relay_sdk.models import to_json

# Tables only; cells are Text, so markup, emoji codes and highlighting are off for nothing,
# but stay off should anything else ever reach it. Piped output is not wrapped at Rich's
# default 80 columns: a table's rows stay whole lines.
_tables = Console(
    highlight=False,
    markup=False,
    emoji=False,
    width=None if sys.stdout.isatty() else 1000,
)

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


def prepare_streams() -> None:
    """Characters the terminal's encoding lacks are written as escapes (`\\xe9`) instead
    of raising UnicodeEncodeError: a dataset's name must not stop `datasets list` for
    whoever's locale is not UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def _write_line(stream: TextIO, text: str) -> None:
    stream.write(escape_controls(text) + "\n")


def print_line(text: str) -> None:
    """One line on stdout; a newline in `text` is shown as `\\n`, not started."""
    _write_line(sys.stdout, text)


def print_note(text: str) -> None:
    """One line on stderr: what people should know beside the output itself."""
    _write_line(sys.stderr, text)


def report_error(message: str) -> None:
    print_note(f"relayctl: error: {message}")


def report_crash() -> None:
    """The exception being handled, as Python prints its traceback, but through
    escape_controls: its message may quote what a server sent."""
    for line in traceback.format_exc().rstrip("\n").split("\n"):
        print_note(line)


def print_json(value: Any) -> None:
    """Models (or lists of them) in the API's own JSON shape, on stdout."""
    sys.stdout.write(json.dumps(to_json(value), indent=2, ensure_ascii=True) + "\n")


def print_done(message: str, result: dict[str, Any], *, as_json: bool) -> None:
    """What a command did: `message` for people, `result` as JSON for scripts."""
    if as_json:
        print_json(result)
    else:
        print_line(message)


def format_time(value: datetime | None, *, none: str = "never", seconds: bool = False) -> str:
    time_format = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return value.astimezone(UTC).strftime(time_format) if value else none


def _cell(value: object) -> Text:
    # str(): a server's JSON may hold a number or an object where a name belongs.
    return Text(escape_controls(str(value)))


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, uncut: Sequence[str] = ("ID",)
) -> None:
    """A table on stdout; the `uncut` columns (ids people copy) are never shortened."""
    cells = [[_cell(value) for value in row] for row in rows]
    table = Table()
    for index, column in enumerate(columns):
        if column in uncut:
            widest = max((row[index].cell_len for row in cells), default=len(column))
            table.add_column(_cell(column), no_wrap=True, min_width=widest)
        else:
            table.add_column(_cell(column), overflow="fold")
    for row in cells:
        table.add_row(*row)
    _tables.print(table)


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
        print_note(f"Showing the newest {limit}; --limit N or --all for more.")


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """One object as a two-column table: field, value."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields:
        table.add_row(_cell(name), _cell(value))
    _tables.print(table)
