"""Checking a leak report's signature: ECDSA P-256 with SHA-256 over the raw body, by
one of the reporters' public keys in RELAY_LEAK_REPORTER_KEYS, named by the
`X-Relay-Reporter-Key` header (the signature, base64 DER, in `X-Relay-Signature`).
Pure functions on bytes: no I/O, so a bad report costs no database work.

RELAY_LEAK_REPORTER_KEYS is a comma-separated list of `key-id:public-key`, each
public key the base64 of its DER SubjectPublicKeyInfo (`openssl ec -in key.pem
-pubout -outform DER | base64 -w0`).
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

KEY_ID_HEADER = "X-Relay-Reporter-Key"
SIGNATURE_HEADER = "X-Relay-Signature"


class ReporterKeyError(ValueError):
    """RELAY_LEAK_REPORTER_KEYS cannot be read."""


@lru_cache(maxsize=4)
def reporter_keys(setting: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """The setting's public keys by id; ReporterKeyError names what is wrong."""
    found: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in filter(None, (part.strip() for part in setting.split(","))):
        key_id, separator, encoded = entry.partition(":")
        if not separator or not key_id:
            raise ReporterKeyError(f"{entry[:20]!r}: write key-id:base64-DER-public-key")
        try:
            key = load_der_public_key(base64.b64decode(encoded, validate=True))
        except (ValueError, binascii.Error) as exc:
            raise ReporterKeyError(f"{key_id}: not a base64 DER public key") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ReporterKeyError(f"{key_id}: not an ECDSA P-256 public key")
        found[key_id] = key
    return found


def signature_is_valid(
    setting: str, key_id: str | None, signature: str | None, body: bytes
) -> bool:
    """True when `signature` (base64 DER) is the named reporter's, over `body`."""
    key = reporter_keys(setting).get(key_id or "")
    if key is None or not signature:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
