"""Signing secrets and signatures, as Stripe's: each endpoint has a secret `whsec_...`
(shown once, when the endpoint is made) and each delivery carries

    Relay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The secret must be at hand to sign, so it is kept sealed (AES-256-GCM, bound to its
endpoint) with a key derived from RELAY_SECRET_KEY: a copy of the database alone
opens none of them (the key Relay keeps in its database when RELAY_SECRET_KEY is unset
would not do, so webhooks need RELAY_SECRET_KEY, as two-factor sign-in does).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from relay.accounts.sealing import SecretKeyMissing, seal, unseal
from relay.config import Settings
from relay.secret_key import derive

# A prefix, not a secret (S105).
SECRET_PREFIX = "whsec_"  # noqa: S105
SIGNATURE_HEADER = "Relay-Signature"
EVENT_ID_HEADER = "Relay-Event-Id"
NO_SERVER_KEY = (
    "Webhooks need the server's own key, RELAY_SECRET_KEY, which is not set: it keeps "
    "the endpoints' signing secrets sealed. Ask the operator to set it (`relay "
    "secret-key` makes one) and restart Relay."
)


def new_secret() -> str:
    """A signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sealing_key(settings: Settings) -> bytes:
    """The key that seals signing secrets; SecretKeyMissing without RELAY_SECRET_KEY."""
    if not settings.secret_key:
        raise SecretKeyMissing(NO_SERVER_KEY)
    return derive(settings.secret_key.encode(), "webhook-secrets")


def _bound_to(endpoint_id: uuid.UUID) -> str:
    return f"webhook:{endpoint_id}"


def seal_secret(key: bytes, secret: str, *, endpoint_id: uuid.UUID) -> str:
    return seal(key, secret, bound_to=_bound_to(endpoint_id))


def open_secret(key: bytes, sealed: str, *, endpoint_id: uuid.UUID) -> str | None:
    """The endpoint's secret; None if it was sealed with another server key."""
    return unseal(key, sealed, bound_to=_bound_to(endpoint_id))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Relay-Signature header of `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
