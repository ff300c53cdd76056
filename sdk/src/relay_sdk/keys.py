"""The Relay API key format, as the client sees it: shape, checksum, display prefix.

The server's own module (relay.auth.keys) generates keys; this one only recognises
them, so the SDK needs nothing of the server. A test checks that both agree.
A key is `rl_live_` + 32 random base62 characters + the 6-character base62 CRC32
of those 32, 46 characters in all.
"""

from __future__ import annotations

import string
import zlib

KEY_PREFIX = "rl_live_"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# What lists show to tell keys apart: "rl_live_" + 4 random characters.
DISPLAY_PREFIX_LENGTH = 12
BASE62_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def checksum(random_part: str) -> str:
    """The 6-character base62 CRC32 of the random part, most significant digit first."""
    value = zlib.crc32(random_part.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(BASE62_ALPHABET[digit])
    return "".join(reversed(digits))


def has_key_shape(candidate: str) -> bool:
    """True when `candidate` is `rl_live_` + 38 ASCII letters and digits (checksum unchecked)."""
    body = candidate[len(KEY_PREFIX) :]
    return (
        len(candidate) == KEY_LENGTH
        and candidate.startswith(KEY_PREFIX)
        # isascii() first: isalnum() alone would accept letters like "é".
        and body.isascii()
        and body.isalnum()
    )


def is_valid_key(candidate: str) -> bool:
    """True when `candidate` has the key's shape and a matching checksum."""
    if not has_key_shape(candidate):
        return False
    random_part = candidate[len(KEY_PREFIX) : len(KEY_PREFIX) + RANDOM_LENGTH]
    return candidate[len(KEY_PREFIX) + RANDOM_LENGTH :] == checksum(random_part)


def display_prefix(key: str) -> str:
    """The first 12 characters, safe to show: they leave 180 unknown bits."""
    return key[:DISPLAY_PREFIX_LENGTH]
