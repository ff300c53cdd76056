"""A leak reporter for the tests: a fresh P-256 key pair, the setting that trusts it,
and signed reports."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class Reporter:
    def __init__(self, key_id: str = "scanner") -> None:
        self.key_id = key_id
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.setting = f"{key_id}:{base64.b64encode(public).decode()}"

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, body: bytes) -> str:
        signature = self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()

    def report(
        self, *tokens: str, url: str = "https://example.com/leak"
    ) -> tuple[bytes, dict[str, str]]:
        """A body listing `tokens` and the headers that sign it."""
        return self.report_entries(
            [
                {"token": token, "type": "relay_api_key", "url": url, "source": "content"}
                for token in tokens
            ]
        )

    def report_entries(self, entries: list[Any]) -> tuple[bytes, dict[str, str]]:
        """A body of exactly these entries, whatever they are, and the signing headers."""
        body = json.dumps(entries).encode()
        return body, {
            "Content-Type": "application/json",
            "X-Relay-Reporter-Key": self.key_id,
            "X-Relay-Signature": self.sign(body),
        }
