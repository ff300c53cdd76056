"""The keys that protect two-factor sign-in, derived from RELAY_SECRET_KEY (never from
the key Relay keeps in its database when that is unset: a copy of the database must
not open what it holds), and sealing with AES-256-GCM.

A sealed value is bound to what it belongs to (the associated data, such as
"totp:<user id>"): copied to another user's row, or used for another purpose, it
does not open.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relay.config import Settings
from relay.errors import ConflictError
from relay.secret_key import derive

NO_SERVER_KEY = (
    "Two-factor sign-in needs the server's own key, RELAY_SECRET_KEY, which is not set. "
    "Ask the operator to set it (`relay secret-key` makes one) and restart Relay."
)
_VERSION = "v1:"
_NONCE_BYTES = 12


class SecretKeyMissing(ConflictError):
    """RELAY_SECRET_KEY is not set, so nothing two-factor can be sealed or checked."""

    code = "secret_key_missing"


@dataclass(frozen=True, slots=True)
class AccountKeys:
    # AES-256-GCM key for TOTP secrets (in the database and in the set-up form).
    sealing: bytes
    # HMAC key for recovery codes: a copy of the database cannot test guesses offline.
    recovery: bytes


def account_keys(settings: Settings) -> AccountKeys:
    """The keys of two-factor sign-in; SecretKeyMissing without RELAY_SECRET_KEY."""
    if not settings.secret_key:
        raise SecretKeyMissing(NO_SERVER_KEY)
    secret = settings.secret_key.encode()
    return AccountKeys(
        sealing=derive(secret, "two-factor-sealing"), recovery=derive(secret, "recovery-codes")
    )


def seal(key: bytes, plaintext: str, *, bound_to: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), bound_to.encode())
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, sealed: str, *, bound_to: str) -> str | None:
    """The plaintext, or None when `sealed` was not sealed with this key for `bound_to`
    (or was altered, or is not a sealed value at all)."""
    if not sealed.startswith(_VERSION):
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed.removeprefix(_VERSION).encode())
        opened = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode())
        return opened.decode()
    except (InvalidTag, ValueError):
        return None
