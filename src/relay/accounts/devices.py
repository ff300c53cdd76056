"""Device cookies, OWASP's answer to lock-out by someone else's guesses: a browser that
has signed in to an account carries a cookie, signed by the server, naming that
account. A sign-in attempt that brings it is counted apart: failures from elsewhere
never slow it down, and its own failures slow only itself (relay.dashboard.signin).

An outside review kept an owner out indefinitely with one wrong password every 30 s,
each from a new address: the back-off counted from anyone's latest failure.

The cookie holds a random id (failures are counted per device by it), a digest of
the account's email (never the email itself) and when it was issued, with an HMAC
of the three; nothing is stored. It is renewed at every sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

DEVICE_LIFETIME = timedelta(days=180)


@dataclass(frozen=True, slots=True)
class Device:
    """A browser that signed in to the account before; `id` names it in the failures."""

    id: str


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(key: bytes, *, email: str, now: datetime) -> str:
    """A new device cookie's value for the account of `email` (as stored)."""
    body = f"{secrets.token_urlsafe(12)}.{_email_digest(email)}.{int(now.timestamp())}"
    return f"{body}.{_mac(key, body)}"


def trusted_device(key: bytes, cookie: str | None, *, email: str, now: datetime) -> Device | None:
    """The device of `cookie` when it is this server's, for the account of `email` (as
    stored) and not older than DEVICE_LIFETIME; None otherwise."""
    if not cookie or len(cookie) > 200:
        return None
    body, _, mac = cookie.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return None
    device_id, email_digest, issued = parts
    if not hmac.compare_digest(email_digest, _email_digest(email)) or not issued.isdigit():
        return None
    if now.timestamp() - int(issued) > DEVICE_LIFETIME.total_seconds():
        return None
    return Device(device_id)
