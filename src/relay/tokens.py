"""Random tokens for cookies and links; only their SHA-256 is ever stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from relay.text import TransientText

# A token as a link's path carries it: it only passes through (see token_hash).
LinkToken = Annotated[str, TransientText(max_length=200)]


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # No salt or slow hash: the token is 256 random bits.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
