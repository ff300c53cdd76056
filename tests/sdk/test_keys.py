"""The SDK's copy of the key format agrees with the server's, on real and corrupted keys."""

from __future__ import annotations

import random

import pytest

from relay.auth import keys as server_keys
from relay_sdk import keys as sdk_keys

pytestmark = pytest.mark.backend_independent


def corruptions(key: str, chooser: random.Random) -> list[str]:
    """Ways a key gets damaged: a changed, dropped or added character, a wrong prefix."""
    position = chooser.randrange(len(server_keys.KEY_PREFIX), len(key))
    replacement = chooser.choice(server_keys.BASE62_ALPHABET.replace(key[position], ""))
    return [
        key[:position] + replacement + key[position + 1 :],
        key[:position] + key[position + 1 :],
        key + "0",
        "rl_test_" + key[len(server_keys.KEY_PREFIX) :],
        key[:position] + "é" + key[position + 1 :],
        key.upper(),
        "",
    ]


def test_sdk_and_server_agree_on_10000_keys_and_their_corruptions() -> None:
    chooser = random.Random(12)
    for _ in range(10_000):
        key = server_keys.generate_key()
        assert sdk_keys.is_valid_key(key)
        assert sdk_keys.display_prefix(key) == server_keys.display_prefix(key)
        for damaged in corruptions(key, chooser):
            assert sdk_keys.is_valid_key(damaged) == server_keys.is_well_formed(damaged), damaged


def test_sdk_and_server_share_the_format_constants() -> None:
    assert (sdk_keys.KEY_PREFIX, sdk_keys.KEY_LENGTH, sdk_keys.DISPLAY_PREFIX_LENGTH) == (
        server_keys.KEY_PREFIX,
        server_keys.KEY_LENGTH,
        server_keys.DISPLAY_PREFIX_LENGTH,
    )
    assert sdk_keys.BASE62_ALPHABET == server_keys.BASE62_ALPHABET
