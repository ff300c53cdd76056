"""relay_sdk.cli.output is the only code of relay_sdk that writes to the terminal, so
every string relayctl prints is escaped and never read as Rich markup: this test walks
the syntax of every other module and fails on any other way to write there.

Refused outside output.py: print(); sys.stdout and sys.stderr (and their __dunder__
originals); echo and secho (Typer's and Click's); a `.print()` method (a Rich
console's, wherever it came from); anything from Rich; a private name of output.py;
os.write, os.system, os.popen and the exec and spawn families; and a subprocess call
that does not set both stdout and stderr (the child would write to the terminal
itself: git quoting a file name, say).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import relay_sdk

PACKAGE = Path(relay_sdk.__file__).parent
OUTPUT = PACKAGE / "cli" / "output.py"

_STREAMS = {"stdout", "stderr", "__stdout__", "__stderr__"}
# `print` as a method: a Rich console's, wherever it came from.
_ECHOES = {"echo", "secho", "print"}
_OS_WRITERS = {"write", "system", "popen"}
_OS_WRITER_PREFIXES = ("exec", "spawn")
_SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen"}


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _writes_to_terminal(node: ast.AST) -> str | None:
    """What `node` does that only output.py may do, or None."""
    if isinstance(node, ast.Name) and node.id == "print":
        return "print()"
    if isinstance(node, ast.Attribute):
        if _is_name(node.value, "sys") and node.attr in _STREAMS:
            return f"sys.{node.attr}"
        if node.attr in _ECHOES:
            return f".{node.attr}()"
        if _is_name(node.value, "os") and (
            node.attr in _OS_WRITERS or node.attr.startswith(_OS_WRITER_PREFIXES)
        ):
            return f"os.{node.attr}"
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        names = {alias.name for alias in node.names}
        if module == "sys" and names & _STREAMS:
            return "from sys import a stream"
        if names & _ECHOES:
            return "import of echo"
        if module == "os" and any(
            name in _OS_WRITERS or name.startswith(_OS_WRITER_PREFIXES) for name in names
        ):
            return "import of an os writer"
        if module.split(".")[0] == "rich":
            return f"from {module} import"
        if module == "relay_sdk.cli.output" and any(name.startswith("_") for name in names):
            return "a private name of output.py"
    if isinstance(node, ast.Import) and any(
        alias.name.split(".")[0] == "rich" for alias in node.names
    ):
        return "import rich"
    if isinstance(node, ast.Call) and _calls_subprocess(node.func):
        keywords = {keyword.arg for keyword in node.keywords}
        if not ({"stdout", "stderr"} <= keywords or "capture_output" in keywords):
            return "a subprocess that may write to the terminal"
    return None


def _calls_subprocess(function: ast.expr) -> bool:
    if isinstance(function, ast.Attribute):
        return _is_name(function.value, "subprocess") and function.attr in _SUBPROCESS_CALLS
    return False


def terminal_writes(source: str) -> list[str]:
    return [
        f"line {getattr(node, 'lineno', '?')}: {found}"
        for node in ast.walk(ast.parse(source))
        if (found := _writes_to_terminal(node)) is not None
    ]


def test_no_module_but_output_writes_to_the_terminal() -> None:
    modules = sorted(path for path in PACKAGE.rglob("*.py") if path != OUTPUT)
    assert len(modules) > 20  # the walk found the package
    found = {
        str(path.relative_to(PACKAGE)): writes
        for path in modules
        if (writes := terminal_writes(path.read_text()))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "print(name)",
        "import sys\nsys.stdout.write(name)",
        "import sys\nsys.__stderr__.write(name)",
        "from sys import stderr",
        "import typer\ntyper.echo(name)",
        "from click import secho",
        "from rich.console import Console",
        "import rich.table",
        "import os\nos.write(1, name.encode())",
        "import os\nos.execvp('git', ['git', 'log'])",
        "import subprocess\nsubprocess.run(['git', 'diff'])",
        "import subprocess\nsubprocess.Popen(['git', 'log'], stdout=subprocess.PIPE)",
        "from relay_sdk.cli.output import _tables",
        "from relay_sdk.cli.output import stdout\nstdout.print(name, markup=False)",
    ],
)
def test_the_walk_refuses_each_way_to_write(source: str) -> None:
    assert terminal_writes(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from relay_sdk.cli.output import print_line\nprint_line(name)",
        "import subprocess\nsubprocess.run(['git'], stdout=subprocess.PIPE, stderr=errors)",
        "import subprocess\nsubprocess.run(['git'], capture_output=True)",
        "process.stdout.read()",
    ],
)
def test_the_walk_lets_the_output_module_and_captured_programs_through(source: str) -> None:
    assert terminal_writes(source) == []
