"""A detector of secrets in log output, for every server the suite runs
(tests.live_server.run_server scans its log when it stops): anything shaped like a
Relay key past its 12-character prefix, a password hash, a SHA-256 digest or a
256-bit token is a finding. Written apart from relay.log_redaction on purpose: it
judges the log as an outsider would, whatever the redaction thinks it covers."""

from __future__ import annotations

import json
import re
from typing import Any

SHAPES = {
    "an API key": re.compile(r"rl_live_[0-9A-Za-z]{5,}"),
    "a password hash": re.compile(r"\$argon2"),
    "a SHA-256 digest": re.compile(r"\b[0-9a-fA-F]{64}\b"),
    "a 256-bit token": re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
}


def _texts(line: str) -> list[str]:
    """The line, and each string a JSON line holds, decoded: an escape before a secret
    ("\\n", "\\u00e9") must not hide it from a shape."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return [line]
    found: list[str] = [line]
    stack: list[Any] = [parsed]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
    return found


def secret_shapes_in(text: str) -> list[str]:
    """What secrets `text` seems to hold, as "<shape> at line <n>" (never the value)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        texts = _texts(line)
        found += [
            f"{name} at line {number}"
            for name, shape in SHAPES.items()
            if any(shape.search(part) for part in texts)
        ]
    return found
