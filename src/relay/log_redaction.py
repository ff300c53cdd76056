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

# What each shape becomes; a key keeps its public 12-character prefix.
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # An API key past its display prefix ("rl_live_" + 4 characters).
    (re.compile(r"(rl_live_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1[redacted]"),
    # A password hash (argon2's encoded form), salt and digest included.
    (re.compile(r"\$argon2(?:id|i|d)\$[\w$=,+/.-]*"), "[redacted password hash]"),
    # A SHA-256 digest (of a key, a token, a recovery code): 64 hex digits.
    (re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])"), "[redacted digest]"),
    # A session, sign-in, link or CSRF token: 43 URL-safe base64 characters (256 bits).
    (re.compile(r"(?<![\w-])[\w-]{43}(?![\w-])", re.ASCII), "[redacted token]"),
    # A TOTP secret: 32 base32 characters.
    (re.compile(r"(?<![A-Z2-7])[A-Z2-7]{32}(?![A-Z2-7])"), "[redacted secret]"),
]


def redact(text: str) -> str:
    """`text` with every secret-shaped part replaced by a placeholder."""
    for shape, placeholder in _SHAPES:
        text = shape.sub(placeholder, text)
    return text
