"""Fail when a package pinned in requirements.lock has a known vulnerability.

The advisories come from PyPI's JSON API, the source pip-audit reads by default
(PyPA's advisory database and OSV, as PyPI publishes them per release). pip-audit
itself asks only `/pypi/<name>/<version>/json`; where that endpoint is not
served (CI's network answers it with 404, and OSV is unreachable there) every
package comes back "could not be audited" and pip-audit still exits 0. This
script asks the per-release endpoint first and falls back to the project
endpoint, whose advisories are those of the newest release: they are exactly
the pinned version's when the pin is the newest release. A pin that neither can
answer for is reported as not audited.

Exit status: 0 clean, 1 a known vulnerability, 2 the audit could not run (an
unpinned line, PyPI unreachable). Standard library only, so it runs before any
virtual environment exists.

    python tools/audit_lock.py [requirements.lock] [--ignore-vuln ID ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYPI_URL = "https://pypi.org"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)\s*(?:[;#].*)?$")


class LockError(ValueError):
    """A line of the lock file is not an exact pin."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    @property
    def project(self) -> str:
        """The PEP 503 normalised name PyPI's URLs use."""
        return re.sub(r"[-_.]+", "-", self.name).lower()


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    fixed_in: tuple[str, ...]

    def known_as(self, ids: Iterable[str]) -> bool:
        return bool({self.id, *self.aliases} & set(ids))


@dataclass
class Finding:
    """What PyPI says about one pin: advisories, or why it could not say."""

    pin: Pin
    advisories: list[Advisory] = field(default_factory=list)
    not_audited: str | None = None
    error: str | None = None


def read_pins(lines: Iterable[str]) -> list[Pin]:
    pins = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match is None:
            raise LockError(f"line {number} is not an exact pin (name==version): {line!r}")
        pins.append(Pin(match["name"], match["version"]))
    return pins


def parse_advisories(payload: dict[str, Any]) -> list[Advisory]:
    """The live advisories in a PyPI JSON payload, one per vulnerability.

    PyPI lists a vulnerability once per database that knows it (a PYSEC and a
    GHSA entry naming each other as aliases); only the first is kept.
    """
    advisories: list[Advisory] = []
    seen: set[str] = set()
    for entry in payload.get("vulnerabilities") or []:
        names = {entry["id"], *(entry.get("aliases") or ())}
        if entry.get("withdrawn") or names & seen:
            continue
        seen |= names
        text = entry.get("summary") or entry.get("details") or "no description"
        advisories.append(
            Advisory(
                id=entry["id"],
                aliases=tuple(entry.get("aliases") or ()),
                summary=" ".join(text.split()),
                fixed_in=tuple(entry.get("fixed_in") or ()),
            )
        )
    return advisories


class PyPI:
    def __init__(self, base_url: str = PYPI_URL, timeout: float = 20.0) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in {"http", "https"}:
            raise ValueError(f"the PyPI URL must be http(s): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON at `path`, or None when PyPI answers 404."""
        # The scheme was checked in __init__.
        url = self.base_url + path
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload: dict[str, Any] = json.load(response)
                return payload
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def audit(self, pin: Pin) -> Finding:
        try:
            release = self.get(f"/pypi/{pin.project}/{pin.version}/json")
            if release is not None:
                return Finding(pin, parse_advisories(release))
            project = self.get(f"/pypi/{pin.project}/json")
        except (OSError, ValueError) as error:
            return Finding(pin, error=f"{type(error).__name__}: {error}")
        if project is None:
            return Finding(pin, not_audited="not found on PyPI")
        newest = project["info"]["version"]
        if newest != pin.version:
            return Finding(
                pin,
                not_audited=f"PyPI serves advisories here only for the newest release, {newest}",
            )
        return Finding(pin, parse_advisories(project))


def report(findings: Sequence[Finding], ignored: Sequence[str], out: Any) -> int:
    vulnerable = 0
    for finding in findings:
        pin = finding.pin
        if finding.error:
            print(f"ERROR {pin.name} {pin.version}: {finding.error}", file=out)
        if finding.not_audited:
            print(f"not audited: {pin.name} {pin.version}: {finding.not_audited}", file=out)
        for advisory in finding.advisories:
            names = ", ".join((advisory.id, *advisory.aliases))
            fixed = ", ".join(advisory.fixed_in) or "no fix released"
            if advisory.known_as(ignored):
                print(f"ignored: {pin.name} {pin.version}: {names}", file=out)
                continue
            vulnerable += 1
            print(
                f"VULNERABLE {pin.name} {pin.version}: {names} (fixed in: {fixed})\n"
                f"    {advisory.summary[:300]}",
                file=out,
            )
    errors = sum(1 for finding in findings if finding.error)
    skipped = sum(1 for finding in findings if finding.not_audited)
    audited = len(findings) - errors - skipped
    print(
        f"{len(findings)} pins: {audited} audited, {skipped} not audited, {errors} failed; "
        f"{vulnerable} known vulnerabilities",
        file=out,
    )
    if vulnerable:
        return 1
    return 2 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("lock", nargs="?", default="requirements.lock", type=Path)
    parser.add_argument(
        "--ignore-vuln",
        action="append",
        default=[],
        metavar="ID",
        help="an advisory id or alias to accept; say why beside it where it is passed",
    )
    parser.add_argument("--pypi-url", default=PYPI_URL)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    try:
        pypi = PyPI(args.pypi_url, args.timeout)
    except ValueError as error:
        parser.error(str(error))

    try:
        pins = read_pins(args.lock.read_text().splitlines())
    except (OSError, LockError) as error:
        print(f"ERROR {args.lock}: {error}", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        findings = list(pool.map(pypi.audit, pins))
    return report(findings, args.ignore_vuln, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
