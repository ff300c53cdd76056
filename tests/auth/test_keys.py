"""The key format: shape, checksum, prefix and stored digest."""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

from relay.auth import keys


def test_generated_key_has_prefix_random_part_and_checksum() -> None:
    key = keys.generate_key()
    assert len(key) == 46
    assert re.fullmatch(r"rl_live_[0-9A-Za-z]{38}", key)
    assert key[-6:] == keys.checksum(key[8:40])


def test_generated_keys_are_distinct() -> None:
    assert len({keys.generate_key() for _ in range(1000)}) == 1000


def test_well_formed_key_is_accepted() -> None:
    assert keys.is_well_formed(keys.generate_key())


def test_key_with_one_changed_character_fails_the_checksum() -> None:
    key = keys.generate_key()
    position = 20
    replacement = "A" if key[position] != "A" else "B"
    altered = key[:position] + replacement + key[position + 1 :]
    assert not keys.is_well_formed(altered)


def test_malformed_strings_are_rejected() -> None:
    key = keys.generate_key()
    for candidate in [
        "",
        " ",
        key[:-1],
        key + "x",
        "rl_test_" + key[8:],
        key.replace(key[10], "-"),
        " " + key[1:],
        "rl_live_" + "é" * 38,
        "x" * 65536,
    ]:
        assert not keys.is_well_formed(candidate), candidate


def test_random_strings_of_the_right_shape_are_not_mistaken_for_keys() -> None:
    # A scanner trusts the checksum: 10,000 random look-alikes give no false positive.
    alphabet = keys.BASE62_ALPHABET
    lookalikes = [
        "rl_live_" + "".join(secrets.choice(alphabet) for _ in range(38)) for _ in range(10_000)
    ]
    assert sum(keys.is_well_formed(candidate) for candidate in lookalikes) == 0


def test_display_prefix_is_the_first_twelve_characters() -> None:
    key = keys.generate_key()
    assert keys.display_prefix(key) == key[:12]
    assert keys.display_prefix(key).startswith("rl_live_")


def test_stored_digest_is_sha256_of_the_full_key() -> None:
    key = keys.generate_key()
    assert keys.hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key not in keys.hash_key(key)


def test_checksum_is_the_base62_crc32_of_the_random_part() -> None:
    # Pins the format: keys already issued must keep verifying.
    random_part = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
    number, digits = zlib.crc32(random_part.encode()), []
    for _ in range(6):
        number, remainder = divmod(number, 62)
        digits.append(keys.BASE62_ALPHABET[remainder])
    assert keys.checksum(random_part) == "".join(reversed(digits))
