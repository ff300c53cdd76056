"""Provision the programs the test suite drives, or stop with one line saying how.

`make test` runs this before the first test, so a fresh clone needs no other
command: a missing program is installed when this machine allows it, and when it
does not, the run stops here, naming the command that installs it, instead of
failing (or worse, skipping) tests later.

    python tools/provision.py chromium redis-server axe-core contract-tools

Chromium, in order: $RELAY_CHROMIUM; a system Chromium on PATH (Debian's
/usr/bin/chromium); Playwright's own build; Debian's package through apt-get when
running as root; Playwright's download. axe-core (the accessibility engine the
browser tests run): `npm ci` in tools/axe/, from its lock file (npm itself from
Debian's package when missing). The contract tools (tests/contract lints
/openapi.json and walks the guide through two clients generated from it): `npm ci`
in tools/contract/ (Redocly, openapi-typescript, openapi-fetch, TypeScript; they need
Node 20.19 or later), and openapi-python-client in its own environment,
tools/contract/.venv, from tools/contract/python-requirements.lock. Other programs:
on PATH, or Debian's package through apt-get when running as root.

Exit status: 0 everything is there, 1 something is missing and could not be
installed (one line on stderr per missing program).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser")
AXE_FOLDER = Path(__file__).resolve().parent / "axe"
CONTRACT_FOLDER = Path(__file__).resolve().parent / "contract"
GENERATOR_LOCK = CONTRACT_FOLDER / "python-requirements.lock"
GENERATOR_VENV = CONTRACT_FOLDER / ".venv"
# Redocly CLI 2's engines: Node 20 from 20.19, or 22.12 and later.
NODE_RANGES = (((20, 19), (21,)), ((22, 12), (1000,)))
INSTALL_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Program:
    """A program some tests run, and the Debian package that provides it."""

    name: str
    debian_package: str
    needed_for: str

    def find(self) -> str | None:
        return shutil.which(self.name)


PROGRAMS = {
    program.name: program
    for program in (
        Program("redis-server", "redis-server", "the Redis-backed limit tests"),
        Program("pg_isready", "postgresql-client", "the PostgreSQL tests"),
        Program("wrk", "wrk", "the HTTP benchmarks"),
        Program("npm", "npm", "installing axe-core and the contract test's tools"),
    )
}


def _playwright_chromium() -> str | None:
    """The path of Playwright's own Chromium build, if it has been downloaded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if Path(path).is_file() else None


def find_chromium() -> str | None:
    """The Chromium the browser tests launch, or None when there is none."""
    chosen = os.environ.get("RELAY_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() and os.access(chosen, os.X_OK) else None
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return _playwright_chromium()


def _can_use_apt() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _run_quietly(command: Sequence[str]) -> bool:
    print(f"provision: {' '.join(command)}", file=sys.stderr)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        result = subprocess.run(  # noqa: S603 (our own fixed commands)
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return False
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"provision: failed: {last_line}", file=sys.stderr)
    return result.returncode == 0


_apt_updated = False


def _apt_install(package: str) -> bool:
    global _apt_updated
    if not _can_use_apt():
        return False
    if not _apt_updated:
        _apt_updated = _run_quietly(["apt-get", "update", "-qq"])
    return _run_quietly(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package])


def _playwright_install() -> bool:
    return _run_quietly([sys.executable, "-m", "playwright", "install", "chromium"])


def ensure_chromium() -> str | None:
    """None when Chromium is there (or now installed), else the one-line reason."""
    if os.environ.get("RELAY_CHROMIUM"):
        if find_chromium():
            return None
        return (
            f"RELAY_CHROMIUM={os.environ['RELAY_CHROMIUM']} is not an executable file: "
            "point it at a Chromium or unset it."
        )
    if find_chromium():
        return None
    installers: list[Callable[[], bool]] = [lambda: _apt_install("chromium"), _playwright_install]
    for install in installers:
        if install() and find_chromium():
            return None
    return (
        "Chromium is needed by the browser tests and could not be installed here: run "
        "`sudo apt-get install chromium` (Debian/Ubuntu) or "
        "`.venv/bin/python -m playwright install chromium`, then `make test` again."
    )


def ensure_program(program: Program) -> str | None:
    """None when the program is on PATH (or now installed), else the one-line reason."""
    if program.find() or (_apt_install(program.debian_package) and program.find()):
        return None
    return (
        f"{program.name} is needed by {program.needed_for} and could not be installed "
        f"here: run `sudo apt-get install {program.debian_package}`, then `make test` again."
    )


def axe_script() -> Path:
    """Where the browser tests load axe-core from."""
    return AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"


def npm_installed(folder: Path) -> bool:
    """Every package `folder`'s package.json names there, at the version its lock pins."""
    lock = json.loads((folder / "package-lock.json").read_text())
    for name in lock["packages"][""]["dependencies"]:
        installed = folder / "node_modules" / name / "package.json"
        if not installed.is_file():
            return False
        pinned = lock["packages"][f"node_modules/{name}"]["version"]
        if json.loads(installed.read_text())["version"] != pinned:
            return False
    return True


def npm_ready(folder: Path) -> bool:
    """`folder`'s packages installed, by `npm ci` from its lock file if they were not."""
    if npm_installed(folder):
        return True
    installed = ensure_program(PROGRAMS["npm"]) is None and _run_quietly(
        ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(folder)]
    )
    return installed and npm_installed(folder)


def ensure_axe() -> str | None:
    """None when axe-core is installed (or now is), else the one-line reason."""
    if npm_ready(AXE_FOLDER):
        return None
    return (
        "axe-core is needed by the browser tests and could not be installed here: run "
        "`cd tools/axe && npm ci` (npm from `sudo apt-get install npm`), then `make test` again."
    )


def node_version() -> tuple[int, ...] | None:
    """The version of `node` on PATH, or None when there is none."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        shown = subprocess.run(  # noqa: S603 (our own fixed command)
            [node, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
        return tuple(int(part) for part in shown.strip().lstrip("v").split("."))
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def generator_installed() -> bool:
    """openapi-python-client's environment there, made from the lock as it is now."""
    stamp = GENERATOR_VENV / ".installed"
    return stamp.is_file() and stamp.read_text() == GENERATOR_LOCK.read_text()


def _install_generator() -> bool:
    python = str(GENERATOR_VENV / "bin" / "python")
    lock = str(GENERATOR_LOCK)
    installed = _run_quietly([sys.executable, "-m", "venv", "--clear", str(GENERATOR_VENV)])
    installed = installed and _run_quietly([python, "-m", "pip", "install", "-q", "-r", lock])
    if installed:
        (GENERATOR_VENV / ".installed").write_text(GENERATOR_LOCK.read_text())
    return installed


def ensure_contract_tools() -> str | None:
    """None when the contract test's tools are installed (or now are), else the reason."""
    if not npm_ready(CONTRACT_FOLDER):
        return (
            "Redocly and the TypeScript client's tools are needed by tests/contract and "
            "could not be installed here: run `cd tools/contract && npm ci` (npm from "
            "`sudo apt-get install npm`), then `make test` again."
        )
    version = node_version()
    if version is None or not any(low <= version < high for low, high in NODE_RANGES):
        shown = ".".join(map(str, version)) if version else "none"
        return (
            f"tests/contract needs Node 20.19+ or 22.12+ (Redocly CLI 2), and node here is "
            f"{shown}: install one (`sudo apt-get install nodejs`), then `make test` again."
        )
    if generator_installed() or _install_generator():
        return None
    return (
        "openapi-python-client is needed by tests/contract and could not be installed: run "
        "`python3 -m venv tools/contract/.venv && tools/contract/.venv/bin/pip install -r "
        "tools/contract/python-requirements.lock`, then `make test` again."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    special: dict[str, Callable[[], str | None]] = {
        "chromium": ensure_chromium,
        "axe-core": ensure_axe,
        "contract-tools": ensure_contract_tools,
    }
    parser.add_argument("programs", nargs="+", choices=[*special, *PROGRAMS])
    args = parser.parse_args(argv)
    problems = [
        special[name]() if name in special else ensure_program(PROGRAMS[name])
        for name in args.programs
    ]
    for problem in filter(None, problems):
        print(f"error: {problem}", file=sys.stderr)
    return 1 if any(problems) else 0


if __name__ == "__main__":
    sys.exit(main())
