"""Sending what a scan found to a Relay server as a signed leak report, so that the
keys are revoked at once (POST /api/v1/leaked-keys; for self-hosted use).

The body is GitHub's secret-scanning partner format; the signature is ECDSA P-256
with SHA-256 over the raw body (base64 DER), made with the `cryptography` package
(`pip install 'relay-sdk[report]'`), by the private key whose public half the server
lists in RELAY_LEAK_REPORTER_KEYS under `key_id`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import httpx

from relay_sdk.scan.finder import Finding

REPORTED_TYPE = "relay_api_key"  # the token type a leak report names
SOURCE = "relayctl scan"


class ReportError(Exception):
    """The report could not be signed, sent or was not accepted; the message says why.
    `kind` is "signing", "connection" or "refused"."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def report_body(findings: Sequence[Finding]) -> bytes:
    """One entry per distinct key, with where it was first found."""
    entries, seen = [], set()
    for finding in findings:
        if finding.key in seen:
            continue
        seen.add(finding.key)
        entries.append(
            {"token": finding.key, "type": REPORTED_TYPE, "url": finding.location, "source": SOURCE}
        )
    return json.dumps(entries).encode()


def sign(body: bytes, signing_key: Path) -> str:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:
        raise ReportError(
            "signing needs cryptography: pip install 'relay-sdk[report]'", "signing"
        ) from exc
    try:
        key = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ReportError(f"{signing_key}: not an unencrypted PEM private key", "signing") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ReportError(f"{signing_key}: not an ECDSA P-256 private key", "signing")
    return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def send_report(findings: Sequence[Finding], url: str, signing_key: Path, key_id: str) -> int:
    """POST the signed report; returns how many entries the server received."""
    body = report_body(findings)
    headers = {
        "Content-Type": "application/json",
        "X-Relay-Reporter-Key": key_id,
        "X-Relay-Signature": sign(body, signing_key),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise ReportError(f"no answer from {url}: {exc}", "connection") from exc
    if response.status_code != 202:
        message = f"{url} answered {response.status_code}: {response.text[:200]}"
        raise ReportError(message, "refused")
    received: int = response.json()["received"]
    return received
