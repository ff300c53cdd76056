"""The Relay app with its key check replaced by a constant principal: the ceiling that
bench/http_bench.py compares Relay against. Same routes, same dependencies, same
queries; only the verifier's work (checksum, hash, cache, expiry) is gone.

(It used FastAPI's dependency_overrides before; that costs more per request than
Relay's cached key check, so it was no ceiling.)

    python bench/fixed_principal_app.py --port 8001 --workers 2

serves it as `relay serve` serves Relay (relay.serving: a listening socket per worker).
Environment: RELAY_DATABASE_URL, RELAY_BENCH_TENANT_ID, RELAY_BENCH_KEY_ID (a key of
that tenant: its uses are recorded like a real key's).
"""

from __future__ import annotations

import argparse
import os
import uuid

from fastapi import FastAPI

from relay.app import create_app as create_relay_app
from relay.auth.principal import Principal
from relay.config import get_settings
from relay.serving import serve


class FixedVerifier:
    """Answers every request with one principal, whatever key it presents."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    async def verify(self, presented: str | None) -> Principal:
        return self.principal


def create_app() -> FastAPI:
    app = create_relay_app()
    principal = Principal(
        tenant_id=uuid.UUID(os.environ["RELAY_BENCH_TENANT_ID"]),
        key_id=uuid.UUID(os.environ["RELAY_BENCH_KEY_ID"]),
        key_prefix="rl_live_none",
        scopes=(),
        expires_at=None,
    )
    app.state.verifier = FixedVerifier(principal)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the ceiling as `relay serve` would.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    serve(
        "fixed_principal_app:create_app",
        get_settings(),
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
    )
