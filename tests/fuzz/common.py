"""What the fuzzers share: how many examples, Hypothesis settings for a live server,
the dashboard's routes, forms as bytes, and addresses to send from."""

from __future__ import annotations

import itertools
import os

from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from relay.app import create_app
from relay.config import Settings

# Examples per operation: 200 in `make test`, more with `make fuzz`.
EXAMPLES = int(os.environ.get("RELAY_FUZZ_EXAMPLES", "200"))

# Derandomized, so a failure repeats; no deadline, since a live server on a shared
# machine answers in its own time.
LIVE_SERVER = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
# For fuzzers that multiply the examples by many routes (a quarter as many each).
LIVE_SERVER_PER_ROUTE = hypothesis_settings(LIVE_SERVER, max_examples=max(EXAMPLES // 4, 10))

# The fuzzers stay signed in: signing out would only test the sign-in redirect.
SKIPPED = {("POST", "/logout")}


def dashboard_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every page, from the app's own route table."""
    app = create_app(settings)
    found = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if isinstance(context.original_route, APIRoute) and not path.startswith(
            ("/api/", "/docs", "/metrics", "/healthz", "/favicon", "/openapi")
        ):
            found |= {(method, path) for method in context.methods or () if method != "HEAD"}
    return sorted(found - SKIPPED)


def quote(text: str) -> str:
    """Percent-encoding that keeps what httpx would refuse (lone surrogates)."""
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogatepass"))


def encoded(fields: list[tuple[str, str]]) -> str:
    """A form body (application/x-www-form-urlencoded) of any text whatever."""
    return "&".join(f"{quote(name)}={quote(value)}" for name, value in fields)


_ADDRESSES = itertools.count()


def from_new_address() -> dict[str, str]:
    """Headers that make a request come from an address no other request came from,
    through the fuzzed servers' trusted proxy (127.0.0.1): no per-address rule, such
    as the sign-in failures an address may have, answers before the code does."""
    n = next(_ADDRESSES)
    return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
