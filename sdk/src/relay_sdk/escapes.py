"""Text from elsewhere (a server, a file name, git) made safe to show in a terminal or a
log line: every character that could steer the terminal is written as an escape.

Escaped, each as a Python string literal writes it (`\\t`, `\\n`, `\\r`, `\\xNN` below
U+0100, `\\uNNNN` above):

- C0 controls (U+0000 to U+001F: ESC starts ANSI and OSC sequences, BEL ends OSC, CR and
  backspace overwrite what was shown, a newline fakes a line of output), DEL (U+007F)
  and C1 controls (U+0080 to U+009F: U+009B alone is CSI to a terminal that takes 8-bit
  controls);
- Unicode bidi marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
  U+202A to U+202E, U+2066 to U+2069), which reorder how the rest of a line reads,
  and the line and paragraph separators (U+2028, U+2029);
- lone surrogates (U+D800 to U+DFFF), which no encoding can write: Python reads a file
  name's bytes that are not UTF-8 as U+DC80 to U+DCFF.

Everything else is kept, other languages and emoji (with their joiners) included. A
backslash is kept as it is: the escapes are for the eye, so that Windows paths stay
readable and escaping twice changes nothing; `--json` is the exact form.
"""

from __future__ import annotations

import re

_STEERING = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _SHORT:
        return _SHORT[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every character that could steer a terminal written as an escape."""
    return _STEERING.sub(_escape, text)
