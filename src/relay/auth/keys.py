"""The API key format, pure functions only: generate, check, hash, prefix.

A key is `rl_live_` + 32 random base62 characters (about 190 bits from `secrets`)
+ a 6-character base62 CRC32 checksum of the random part, 46 characters in all.
The checksum lets Relay reject a mistyped or made-up key without any I/O, and
lets a secret scanner recognise a leaked key with no false positives.
"""

from __future__ import annotations

import hashlib
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
# Every 2-digit base62 number, so that 6 digits take 3 look-ups instead of a loop:
# the checksum is computed on every request and this keeps it under a microsecond.
_BASE62_PAIRS = [high + low for high in BASE62_ALPHABET for low in BASE62_ALPHABET]
_PAIR_BASE = 62 * 62


def checksum(random_part: str) -> str:
    """The 6-character base62 CRC32 of the random part (62**6 > 2**32, so it always fits)."""
    high, low = divmod(zlib.crc32(random_part.encode("ascii")), _PAIR_BASE)
    top, middle = divmod(high, _PAIR_BASE)
    return _BASE62_PAIRS[top] + _BASE62_PAIRS[middle] + _BASE62_PAIRS[low]


def generate_key() -> str:
    """A new key; the caller shows it once and stores only `hash_key(key)`."""
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{KEY_PREFIX}{random_part}{checksum(random_part)}"


def is_well_formed(candidate: str) -> bool:
    """True when `candidate` has the key's shape and a matching checksum."""
    if len(candidate) != KEY_LENGTH or not candidate.startswith(KEY_PREFIX):
        return False
    # isascii() first: isalnum() alone would accept letters like "é".
    body = candidate[len(KEY_PREFIX) :]
    if not (body.isascii() and body.isalnum()):
        return False
    return body[RANDOM_LENGTH:] == checksum(body[:RANDOM_LENGTH])


def hash_key(key: str) -> str:
    """The stored form of a key. No salt or slow hash: the key is 190 random bits."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    """The first 12 characters, safe to show: they leave 180 unknown bits."""
    return key[:DISPLAY_PREFIX_LENGTH]
