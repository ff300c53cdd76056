"""relay_sdk.webhooks.verify: a body signed with the secret within the tolerance is
its event; a wrong secret, an altered body, an old or future timestamp, or a header
without its parts is a WebhookVerificationError. (Checked against the server's real
deliveries in tests/webhooks/test_delivery.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from relay_sdk import WebhookVerificationError
from relay_sdk.webhooks import verify

pytestmark = pytest.mark.backend_independent

SECRET = "whsec_" + "s" * 43
BODY = json.dumps({"id": "evt_1", "type": "api_key.revoked", "data": {}}).encode()
NOW = 1_800_000_000


def header(body: bytes = BODY, *, at: int = NOW, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def test_a_signed_body_is_its_event() -> None:
    assert verify(BODY, header(), SECRET, now=NOW + 10) == json.loads(BODY)
    assert verify(BODY.decode(), header(), SECRET, now=NOW) == json.loads(BODY)


def test_any_of_several_signatures_may_match() -> None:
    rolled = header(secret="whsec_old") + "," + header().split(",")[1]
    assert verify(BODY, rolled, SECRET, now=NOW)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("body", "signature", "secret", "said"),
    [
        (BODY, header(), "whsec_wrong", "does not match"),
        (BODY.replace(b"revoked", b"created"), header(), SECRET, "does not match"),
        (BODY, header(at=NOW - 301), SECRET, "over the tolerance of 300 s"),
        (BODY, header(at=NOW + 301), SECRET, "over the tolerance"),
        (BODY, "v1=abc", SECRET, "needs t="),
        (BODY, f"t={NOW}", SECRET, "needs t="),
        (BODY, "t=soon,v1=abc", SECRET, "malformed t="),
        (BODY, "", SECRET, "needs t="),
    ],
)
def test_what_relay_did_not_sign_just_now_is_refused(
    body: bytes, signature: str, secret: str, said: str
) -> None:
    with pytest.raises(WebhookVerificationError, match=said):
        verify(body, signature, secret, now=NOW)


def test_the_tolerance_can_be_widened_or_turned_off() -> None:
    old = header(at=NOW - 3600)
    assert verify(BODY, old, SECRET, tolerance=7200, now=NOW)["id"] == "evt_1"
    assert verify(BODY, old, SECRET, tolerance=0, now=NOW)["id"] == "evt_1"
