"""relayctl's entry point: the command tree, and the one place where failures become
a line on stderr and an exit status (see ExitCode)."""

from __future__ import annotations

import sys

import typer

from relay_sdk.cli import audit, datasets, keys, scan
from relay_sdk.cli.output import CommandError, describe_error, exit_code_for, report_error
from relay_sdk.errors import RelayError

app = typer.Typer(
    name="relayctl",
    help="Relay from the command line: API keys, datasets, the audit log, and a scanner for "
    "leaked keys. "
    "Authenticates with RELAY_API_KEY against RELAY_BASE_URL (default http://127.0.0.1:8000).",
    no_args_is_help=True,
    # A traceback with local variables could print the API key.
    pretty_exceptions_show_locals=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(datasets.app, name="datasets")
app.add_typer(audit.app, name="audit")
app.command("scan")(scan.scan)


def main() -> None:
    """The console script: runs the command, turning expected failures into one line."""
    try:
        app()
    except CommandError as error:
        report_error(str(error))
        sys.exit(error.code)
    except RelayError as error:
        report_error(describe_error(error))
        sys.exit(exit_code_for(error))
