"""Secrets out of the logs, by construction: every line Relay writes goes through
`redact` (relay.observability's formatter applies it to the whole line, message,
extra fields and traceback alike), which blanks anything shaped like a secret Relay
deals in. It is the second guard: the first is never to log one (engines run with
SQLAlchemy's hide_parameters, so a failed statement's error holds no values).

An outside review found a 500's traceback carrying a statement's parameters, a
user's argon2 hash among them. A test scans the log of every server the suite runs
for these shapes (tests/secret_detector.py).
"""

from __future__ import annotations

import re

# Each shape, and what it becomes (a key keeps its public 12-character prefix). One
# regular expression of them all, so a line is read once: the access line, written for
# every request, costs a few microseconds more, not the five passes' twenty.
_SHAPES: dict[str, tuple[str, str]] = {
    # An API key past its display prefix ("rl_live_" + 4 characters).
    "key": (r"rl_live_[0-9A-Za-z]{5,}", ""),
    # A password hash (argon2's encoded form), salt and digest included.
    "hash": (r"\$argon2(?:id|i|d)\$[\w$=,+/.-]*", "[redacted password hash]"),
    # A SHA-256 digest (of a key, a token, a recovery code): 64 hex digits.
    "digest": (r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])", "[redacted digest]"),
    # A session, sign-in, link or CSRF token: 43 URL-safe base64 characters (256 bits).
    "token": (r"(?<![\w-])[\w-]{43}(?![\w-])", "[redacted token]"),
    # A webhook signing secret ("whsec_" and a token: the token's own shape misses it,
    # since "_" before it counts as part of the word).
    "webhook": (r"whsec_[\w-]{20,}", "whsec_[redacted]"),
    # A TOTP secret: 32 base32 characters.
    "totp": (r"(?<![A-Z2-7])[A-Z2-7]{32}(?![A-Z2-7])", "[redacted secret]"),
}
_ANY_SHAPE = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, (pattern, _) in _SHAPES.items()), re.ASCII
)
# No shape is shorter: shorter text is given back as it is, unread.
_SHORTEST = len("rl_live_") + 5


def _placeholder(found: re.Match[str]) -> str:
    name = found.lastgroup or ""
    if name == "key":
        return found.group()[:12] + "[redacted]"
    return _SHAPES[name][1]


def redact(text: str) -> str:
    """`text` with every secret-shaped part replaced by a placeholder."""
    if len(text) < _SHORTEST:
        return text
    return _ANY_SHAPE.sub(_placeholder, text)
