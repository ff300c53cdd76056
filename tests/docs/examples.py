"""The examples of the documentation, as the docs test runs them.

Every fenced block in docs/ and the README whose language is `sh` or `python` is an
example, run in
page order against a live server: shell blocks in one bash process per page (so a
variable set in one block is there in the next), Python blocks in one namespace per
page. Comments on the line before a block say more (they do not show on the site):

- `<!-- docs: skip -->`: not run (it starts a server, or needs what a test has not).
- `<!-- docs: exit N -->`: the block ends with exit status N (0 otherwise).
- `<!-- docs: output -->` before a `json` or `text` block: what the runnable block
  before it prints. In JSON, "..." stands for any value, a string ending in "..."
  for any string that starts so, a last list item "..." for any further items, and
  a key "...": "..." for any further keys; in text, "..." in a line for anything,
  and a line of "..." alone for any lines.
- `<!-- docs: set NAME=.path -->` after a block that prints JSON: the variable NAME
  (shell and Python) is the value at `.path` (`.id`, `.items[0].id`, `[0].key`), so
  that a later block can name what an earlier one made.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNABLE = {"sh", "python"}
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})\s*(?P<info>[^`\n]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs:\s*(?P<what>.*?)\s*-->\s*$")


@dataclass
class Example:
    page: Path
    line: int
    language: str
    code: str
    skip: bool = False
    exit_status: int = 0
    output: str | None = None
    output_language: str = "text"
    sets: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.page.relative_to(DOCS.parent)}:{self.line}"


def _blocks(text: str) -> list[tuple[int, str, str, list[str]]]:
    """(line, language, code, directives just before) of each fenced block; a `set`
    directive is an entry of its own (language "set"), in its place."""
    lines = text.splitlines()
    found: list[tuple[int, str, str, list[str]]] = []
    directives: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = _DIRECTIVE.match(line)
        if directive:
            what = directive.group("what")
            if what.startswith("set "):
                found.append((index + 1, "set", what[4:], []))
            else:
                directives.append(what)
            index += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip():
                directives = []  # a directive is about the block right after it
            index += 1
            continue
        indent, marks = len(fence.group("indent")), fence.group("fence")
        language = (fence.group("info").split() or [""])[0]
        body, index = [], index + 1
        while index < len(lines) and not lines[index].strip().startswith(marks):
            body.append(lines[index][indent:])
            index += 1
        found.append((index - len(body), language, "\n".join(body) + "\n", directives))
        directives, index = [], index + 1
    return found


def examples_of(page: Path) -> list[Example]:
    """The runnable blocks of a page, with their expected output and directives."""
    examples: list[Example] = []
    for line, language, code, directives in _blocks(page.read_text()):
        if language == "set":
            assert examples, f"{page}:{line}: a set directive with no example before it"
            name, _, path = code.partition("=")
            examples[-1].sets.append((name.strip(), path.strip()))
            continue
        if "output" in directives:
            assert examples, f"{page}:{line}: an output block with no example before it"
            examples[-1].output, examples[-1].output_language = code, language
            continue
        if language not in RUNNABLE:
            continue
        example = Example(page, line, language, code, skip="skip" in directives)
        for directive in directives:
            if directive.startswith("exit "):
                example.exit_status = int(directive.split()[1])
        examples.append(example)
    return examples


def pages() -> list[Path]:
    """Every page of the site, and the README (the door to it)."""
    return [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]


_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def value_at(data: Any, path: str) -> Any:
    """`.id`, `.items[0].id`, `[0].key` in parsed JSON."""
    for name, number in _STEP.findall(path):
        data = data[name] if name else data[int(number)]
    return data


def json_matches(expected: Any, actual: Any) -> bool:
    """Whether `actual` is what `expected` shows, with the "..." wildcards above."""
    if expected == "...":
        return True
    if isinstance(expected, str) and expected.endswith("...") and isinstance(actual, str):
        return actual.startswith(expected[:-3])
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        rest = expected.get("...") == "..."
        keys = set(expected) - {"..."}
        if not keys <= set(actual) or (not rest and set(actual) != keys):
            return False
        return all(json_matches(expected[key], actual[key]) for key in keys)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and expected[-1] == "...":
            head = expected[:-1]
            return len(actual) >= len(head) and all(
                json_matches(e, a) for e, a in zip(head, actual, strict=False)
            )
        return len(expected) == len(actual) and all(
            json_matches(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


def text_matches(expected: str, actual: str) -> bool:
    """Whether `actual`'s lines are `expected`'s, "..." standing for anything; spaces at
    a line's end are not compared (a page cannot show them; tables pad their cells)."""
    actual = "\n".join(line.rstrip(" ") for line in actual.split("\n"))
    parts = []
    for line in expected.rstrip("\n").splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*")
        else:
            parts.append(re.escape(line).replace(re.escape("..."), r"[^\n]*") + r"\n")
    return re.fullmatch("".join(parts), actual.rstrip("\n") + "\n") is not None


def output_matches(example: Example, actual: str) -> bool:
    assert example.output is not None
    if example.output_language == "json":
        try:
            return json_matches(json.loads(example.output), json.loads(actual))
        except ValueError:
            return False
    return text_matches(example.output, actual)
