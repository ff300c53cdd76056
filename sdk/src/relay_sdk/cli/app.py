"""relayctl's entry point: the command tree, and the one place where failures become
a line on stderr and an exit status (see ExitCode). Usage mistakes and a bug's
traceback are written by output too, not by Typer, which prints only its help screens."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from importlib import metadata
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from relay_sdk.cli import audit, datasets, keys, policy, pools, scan, webhooks
from relay_sdk.cli.output import (
    CommandError,
    ExitCode,
    describe_error,
    exit_code_for,
    prepare_streams,
    print_line,
    report_crash,
    report_error,
)
from relay_sdk.errors import RelayError

app = typer.Typer(
    name="relayctl",
    help="Relay from the command line: API keys, limit pools, datasets, the audit log, the "
    "key policy, webhooks, and a scanner for leaked keys. "
    "Authenticates with RELAY_API_KEY against RELAY_BASE_URL (default http://127.0.0.1:8000).",
    no_args_is_help=True,
    # A traceback with local variables could print the API key.
    pretty_exceptions_show_locals=False,
)


def _print_version(shown: bool) -> None:
    if shown:
        print_line(f"relayctl, from relay-sdk {metadata.version('relay-sdk')}")
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
    """Relay from the command line."""


app.add_typer(keys.app, name="keys")
app.add_typer(datasets.app, name="datasets")
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")
app.add_typer(pools.app, name="pools")
app.add_typer(webhooks.app, name="webhooks")
app.command("scan")(scan.scan)


def main() -> None:
    """The console script: runs the command, turning expected failures and usage mistakes
    into one line (Click's own answer to a mistake is a framed box, which quotes what was
    typed, a file name given by pre-commit say, as it is)."""
    prepare_streams()
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as error:
        # `relayctl` or a group alone: Typer printed its help screen while raising this.
        sys.exit(error.exit_code)
    except ClickException as error:
        context = getattr(error, "ctx", None)
        # The command path begins with the program's name: the way to run it instead.
        command = context.command_path.partition(" ")[2] if context else ""
        see = " ".join(filter(None, (_invoked_as("relayctl"), command, "--help")))
        message = error.format_message().rstrip(".")
        if context:  # "Did you mean 'rotate'?" keeps its question mark
            message += f"{'' if message.endswith('?') else '.'} See '{see}'."
        report_error(message)
        sys.exit(error.exit_code)
    except typer.Abort:
        report_error("aborted")
        sys.exit(ExitCode.OTHER)
    except CommandError as error:
        report_error(str(error))
        sys.exit(error.code)
    except RelayError as error:
        report_error(describe_error(error))
        sys.exit(exit_code_for(error))
    except Exception:
        report_crash()
        sys.exit(ExitCode.OTHER)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _invoked_as(name: str) -> str:
    """`name` when the shell finds this very program by it (an activated venv, pipx);
    else the path this process was started by, as typed (`.venv/bin/relayctl`), so that
    a hint runs as printed. (relay.invocation does the same for `relay`: relay-sdk is a
    distribution of its own and cannot import it.)"""
    started = sys.argv[0]
    if os.path.basename(started) != name:
        return name  # started some other way (a test runner, python -c): no path to give
    found = shutil.which(name)
    try:
        if found and os.path.samefile(found, started):
            return name
    except OSError:
        return name
    return shlex.quote(started)
