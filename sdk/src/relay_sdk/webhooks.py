"""Checking that a webhook came from Relay: `verify(payload, header, secret)`.

Relay signs each delivery as Stripe does: the header

    Relay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

where `secret` is the endpoint's `whsec_...`, shown when it was created. Pass the raw
body as received (bytes, before any JSON parsing: re-encoding changes it):

    event = verify(request.body, request.headers["Relay-Signature"], secret)

A delivery can arrive more than once (Relay sends at least once): its `id` (also in the
Relay-Event-Id header) says which event it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from relay_sdk.errors import RelayError

DEFAULT_TOLERANCE = 300


class WebhookVerificationError(RelayError):
    """The payload is not an event Relay signed with this secret, or it was signed more
    than `tolerance` seconds away from now (a replay, or a clock far off)."""


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("Relay-Signature has a malformed t=") from None
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("Relay-Signature needs t=<seconds> and v1=<signature>")
    return timestamp, signatures


def verify(
    payload: bytes | str,
    header: str,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The event in `payload` (parsed JSON), after checking its Relay-Signature `header`
    against the endpoint's `secret`; WebhookVerificationError if it does not match, or
    was signed more than `tolerance` seconds from `now` (0: no time check)."""
    body = payload.encode() if isinstance(payload, str) else payload
    timestamp, signatures = _parse(header)
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise WebhookVerificationError("The signature does not match: wrong secret or altered")
    current = time.time() if now is None else now
    if tolerance and abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"The signature is {abs(current - timestamp):.0f} s old: over the "
            f"tolerance of {tolerance} s"
        )
    event: dict[str, Any] = json.loads(body)
    return event
