"""Prometheus metrics, and GET /metrics (needs `Authorization: Bearer $RELAY_METRICS_TOKEN`).

With several workers, `relay serve` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory so that /metrics adds up every worker, whichever one answers.
"""

from __future__ import annotations

import os
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from relay.errors import error_response

REQUESTS = Counter(
    "relay_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "relay_http_request_duration_seconds",
    "Time from request to the end of the response",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AUTH_FAILURES = Counter(
    "relay_auth_failures_total",
    "Refused API authentications by reason: missing, invalid, revoked, expired, disabled, "
    "rate_limited",
    ["reason"],
)
KEY_CACHE = Counter("relay_key_cache_total", "Key verifications by cache result", ["result"])
REVOCATION_NOTIFICATIONS = Counter(
    "relay_revocation_notifications_total", "Key changes heard from other processes"
)
RATE_LIMITED = Counter("relay_rate_limited_total", "Requests refused by a key's own rate limit")
BACKGROUND_ROWS_DROPPED = Counter(
    "relay_background_rows_dropped_total",
    "Rows a background writer dropped because the database refused them alone (see batches.py)",
    ["writer"],
)
WEBHOOK_DELIVERIES = Counter(
    "relay_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), "
    "failed (given up after 24 hours)",
    ["outcome"],
)
# With several workers each reports its own view; the minimum is what matters.
REDIS_UP = Gauge(
    "relay_redis_up",
    "1 while limits are shared through Redis, 0 while counted per process",
    multiprocess_mode="livemin",
)
REDIS_FAILURES = Counter(
    "relay_redis_failures_total", "Redis calls that failed, each answered from per-process counts"
)

# Counted by the new worker (see relay.supervisor), so /metrics adds it up.
WORKER_REPLACEMENTS = Counter(
    "relay_worker_replacements_total",
    "Workers `relay serve --workers N` started in place of another, by reason: exited, "
    "unresponsive (its event loop missed the heartbeat)",
    ["reason"],
)

router = APIRouter(include_in_schema=False)


def _registry() -> CollectorRegistry | None:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return None  # the default registry of this process
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format; 404 unless RELAY_METRICS_TOKEN is set and presented."""
    token = request.app.state.settings.metrics_token
    sent = request.headers.get("authorization", "")
    if not token:
        return error_response("Not Found", "not_found", 404)
    if not secrets.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return error_response(
            "Invalid or missing metrics token",
            "invalid_metrics_token",
            401,
            {"WWW-Authenticate": 'Bearer realm="relay-metrics"'},
        )
    registry = _registry()
    body = generate_latest(registry) if registry else generate_latest()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
