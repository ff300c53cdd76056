"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as
every authenticator app computes them, with pyotp; the QR code that hands the secret
to the app, drawn on the server as SVG with segno (no script of anyone else's).

A code is accepted for its own step and one step either side (clock drift), and
only for a step later than the last one accepted: no code works twice.
"""

from __future__ import annotations

import hmac

import pyotp
import segno

ISSUER = "Relay"
DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32 (RFC 4226's recommended length), as apps take it."""
    return pyotp.random_base32()


def step_at(at: float) -> int:
    """The time step of a Unix time."""
    return int(at // STEP_SECONDS)


def code_at(secret: str, at: float) -> str:
    """The code of the step of `at` (what the user's app shows then)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(int(at))


def looks_like_code(text: str) -> bool:
    return len(text) == DIGITS and text.isascii() and text.isdigit()


def matching_step(secret: str, code: str, *, at: float, after: int | None) -> int | None:
    """The step, within DRIFT_STEPS of `at` and later than `after`, whose code is `code`;
    None when there is none."""
    if not looks_like_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = step_at(at)
    for step in range(now + DRIFT_STEPS, now - DRIFT_STEPS - 1, -1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// link an authenticator app reads from the QR code."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=email, issuer_name=ISSUER)


def qr_code(uri: str) -> str:
    """The QR code of `uri` as an SVG data: URI (an <img> the page's policy allows)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
