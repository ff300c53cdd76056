"""The Relay app with authentication replaced by a fixed principal: the ceiling that
bench/http_bench.py compares Relay against (same routes, same queries, no key check).

    uvicorn fixed_principal_app:create_app --factory --app-dir bench
Environment: RELAY_DATABASE_URL, RELAY_BENCH_TENANT_ID.
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI

from relay.app import create_app as create_relay_app
from relay.auth.dependencies import get_principal
from relay.auth.principal import Principal


def create_app() -> FastAPI:
    app = create_relay_app()
    principal = Principal(
        tenant_id=uuid.UUID(os.environ["RELAY_BENCH_TENANT_ID"]),
        key_id=uuid.uuid4(),
        key_prefix="rl_live_none",
        scopes=(),
        expires_at=None,
    )
    app.dependency_overrides[get_principal] = lambda: principal
    return app
