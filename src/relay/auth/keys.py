"""The API key format, pure functions only: generate, check, hash, prefix.

A key is `rl_live_` + 32 random base62 characters (about 190 bits from `secrets`)
+ a 6-character base62 CRC32 checksum of the random part, 46 characters in all.
The checksum lets Relay reject a mistyped or made-up key without any I/O, and
lets a secret scanner recognise a leaked key with no false positives.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib

KEY_PREFIX = "rl_live_"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# What lists and the dashboard show to tell keys apart: "rl_live_" + 4 random characters.
DISPLAY_PREFIX_LENGTH = 12

BASE62_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_KEY_PATTERN = re.compile(
    rf"{KEY_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH}}}[0-9A-Za-z]{{{CHECKSUM_LENGTH}}}"
)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits))


def checksum(random_part: str) -> str:
    """The 6-character base62 CRC32 of the random part (62**6 > 2**32, so it always fits)."""
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate_key() -> str:
    """A new key; the caller shows it once and stores only `hash_key(key)`."""
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{KEY_PREFIX}{random_part}{checksum(random_part)}"


def is_well_formed(candidate: str) -> bool:
    """True when `candidate` has the key's shape and a matching checksum."""
    if len(candidate) != KEY_LENGTH or _KEY_PATTERN.fullmatch(candidate) is None:
        return False
    random_part = candidate[len(KEY_PREFIX) : len(KEY_PREFIX) + RANDOM_LENGTH]
    return candidate[-CHECKSUM_LENGTH:] == checksum(random_part)


def hash_key(key: str) -> str:
    """The stored form of a key. No salt or slow hash: the key is 190 random bits."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    """The first 12 characters, safe to show: they leave 180 unknown bits."""
    return key[:DISPLAY_PREFIX_LENGTH]
