"""`relayctl scan`: report Relay API keys in files, staged changes or git history.

Exit status: 0 when nothing is found, 1 when a key is, 2 when the scan could not
run (a missing path, not a git repository). Findings go to stdout, one a line,
the key masked to its 12-character prefix; what was scanned and skipped, to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relay_sdk.cli.output import (
    CommandError,
    ExitCode,
    JsonOption,
    print_json,
    print_line,
    print_note,
)
from relay_sdk.scan import GitError, ScanResult, scan_history, scan_paths, scan_staged
from relay_sdk.scan.report import ReportError, send_report

KEYS_FOUND = 1
# Paths of skipped files are listed up to this many per reason; then counted only.
_LISTED_SKIPS = 5


def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(exists=True, help="Files and directories to scan (default: .)."),
    ] = None,
    staged: Annotated[
        bool, typer.Option("--staged", help="Scan the lines the staged changes add.")
    ] = False,
    git_history: Annotated[
        bool, typer.Option("--git-history", help="Scan every commit reachable from any ref.")
    ] = False,
    as_json: JsonOption = False,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            metavar="URL",
            help="Send what is found to this leak-report URL (a Relay server's "
            "/api/v1/leaked-keys), which revokes the keys at once.",
        ),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(help="PEM file of the P-256 private key that signs the report."),
    ] = None,
    reporter_key_id: Annotated[
        str, typer.Option(help="The id the server knows the signing key by.")
    ] = "relayctl",
) -> None:
    """Find Relay API keys (checked by their checksum) and say where they are."""
    if staged and git_history:
        raise typer.BadParameter("give --staged or --git-history, not both")
    if (staged or git_history) and paths:
        raise typer.BadParameter("--staged and --git-history scan the repository here, not PATHs")
    if report and signing_key is None:
        raise typer.BadParameter("--report needs --signing-key")
    try:
        if staged:
            result = scan_staged()
        elif git_history:
            result = scan_history()
        else:
            result = scan_paths(str(path) for path in paths or [Path(".")])
    except GitError as error:
        raise CommandError(str(error), ExitCode.USAGE) from error
    _print_findings(result, as_json=as_json)
    _print_summary(result)
    if result.findings and report and signing_key:
        try:
            received = send_report(result.findings, report, signing_key, reporter_key_id)
        except ReportError as error:
            code = {"signing": ExitCode.USAGE, "connection": ExitCode.CONNECTION}
            raise CommandError(str(error), code.get(error.kind, ExitCode.AUTHENTICATION)) from error
        print_note(f"relayctl scan: reported {_keys(received)} to {report}")
    if result.findings:
        raise typer.Exit(KEYS_FOUND)


def _print_findings(result: ScanResult, *, as_json: bool) -> None:
    if as_json:
        findings = [
            {"path": f.path, "line": f.line, "commit": f.commit, "key_prefix": f.key_prefix}
            for f in result.findings
        ]
        print_json(findings)
        return
    for finding in result.findings:
        print_line(f"{finding.location}: Relay API key {finding.key_prefix}...")


def _keys(count: int) -> str:
    return f"{count} key{'' if count == 1 else 's'}"


def _print_summary(result: ScanResult) -> None:
    parts = [f"{result.scanned} scanned", f"{_keys(len(result.findings))} found"]
    for reason, skipped in sorted(result.skipped.items()):
        listed = ", ".join(skipped[:_LISTED_SKIPS]) + (
            ", ..." if len(skipped) > _LISTED_SKIPS else ""
        )
        parts.append(f"skipped {len(skipped)} {reason} ({listed})")
    print_note("relayctl scan: " + "; ".join(parts))
