"""docs/reference/sdk.md renders every public module of relay_sdk.

Public is every top-level module of the package (a `.py` file or a package directory)
whose name does not start with "_", except those in INTERNAL, each with the reason it
is not. The default is public, so a new resource module fails this test until the page
renders it (`::: relay_sdk.<module>`) or it is added to INTERNAL.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "src" / "relay_sdk"
PAGE = ROOT / "docs" / "reference" / "sdk.md"

INTERNAL = {
    "cli": "relayctl's commands, documented by docs/reference/relayctl.md from its Typer app",
    "scan": "used through `relayctl scan` and its pre-commit hook (docs/guides/leaked-keys.md)",
    "client": "rendered through its two classes, relay_sdk.Relay and relay_sdk.AsyncRelay",
    "escapes": "makes text safe for relayctl's and the scanner's terminal output",
    "keys": "the key format, checked by the clients before a request",
    "models": "JSON to the resource modules' dataclasses and back",
    "operations": "one call's definition, shared by the sync and the async transport",
    "resource": "turns each operation into a sync and an async method",
    "transport": "sending and retrying; its rules are the clients' documented behaviour",
}


def _modules() -> set[str]:
    files = {path.stem for path in PACKAGE.glob("*.py")}
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    return {name for name in files | packages if not name.startswith("_")}


def test_every_public_sdk_module_is_on_the_reference_page() -> None:
    rendered = set(re.findall(r"^::: relay_sdk\.(\w+)\s*$", PAGE.read_text(), re.MULTILINE))
    public = _modules() - INTERNAL.keys()
    assert public - rendered == set(), "render them in docs/reference/sdk.md"


def test_every_internal_module_exists() -> None:
    """A module removed or renamed leaves INTERNAL, so the list says what is true."""
    assert INTERNAL.keys() - _modules() == set()
