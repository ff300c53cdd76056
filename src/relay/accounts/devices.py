"""Device cookies, OWASP's answer to lock-out by someone else's guesses: a browser that
has signed in to an account carries a cookie, signed by the server, naming that
account's user. A sign-in attempt that brings it is counted apart: failures from
elsewhere never slow it down, and its own failures slow only it
(relay.accounts.sign_in).

An outside review kept an owner out indefinitely with one wrong password every 30 s,
each from a new address: the back-off counted from anyone's latest failure.

The cookie holds a random id (failures are counted per device by it), the user's id
and when it was issued, with an HMAC of the three; nothing is stored per device. It
is renewed at every sign-in, and every device of a user stops counting as known when
their sessions are ended for a changed credential (a new password, a reset, turning
two-factor on, signing out everywhere: `users.devices_valid_after`, set by
relay.accounts.sessions), or when the user is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from relay.tenants.models import User

DEVICE_LIFETIME = timedelta(days=180)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DeviceClaim:
    """What a genuine device cookie says, before it is matched with a user."""

    id: str
    user_id: uuid.UUID
    issued: datetime


@dataclass(frozen=True, slots=True)
class Device:
    """A browser that signed in to the account before; `id` names it in the failures."""

    id: str


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(key: bytes, *, user_id: uuid.UUID, now: datetime) -> str:
    """A new device cookie's value for `user_id`'s browser."""
    # Issued to the microsecond: a cookie given right after the user's devices were
    # forgotten (a new password) must come after that moment.
    body = f"{secrets.token_urlsafe(12)}.{user_id.hex}.{(now - _EPOCH) // _MICROSECOND}"
    return f"{body}.{_mac(key, body)}"


def claim_of(key: bytes, cookie: str | None, *, now: datetime) -> DeviceClaim | None:
    """The claim of `cookie` if this server signed it and it is not older than
    DEVICE_LIFETIME; None otherwise."""
    if not cookie or len(cookie) > 200:
        return None
    body, _, mac = cookie.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return None
    device_id, user_hex, issued_text = parts
    try:
        user_id, issued = uuid.UUID(hex=user_hex), _EPOCH + int(issued_text) * _MICROSECOND
    except (ValueError, OverflowError):
        return None
    if now - issued > DEVICE_LIFETIME:
        return None
    return DeviceClaim(device_id, user_id, issued)


def known_device(claim: DeviceClaim | None, user: User | None) -> Device | None:
    """The device of `claim` when it is `user`'s and was issued since their devices
    were last forgotten."""
    if claim is None or user is None or claim.user_id != user.id:
        return None
    if user.devices_valid_after is not None and claim.issued < user.devices_valid_after:
        return None
    return Device(claim.id)
