"""The Redis connection, when RELAY_REDIS_URL names one: state that every worker and
server must share (failure counts, per-key rate limits). Optional: without it Relay
counts in each process's memory."""

from __future__ import annotations

from redis.asyncio import Redis

from relay.config import Settings

# A Redis that stops answering must cost a request little: after this long the
# request goes on with per-process counting (see limits/windows.py).
SOCKET_TIMEOUT_SECONDS = 0.25


def create_redis(settings: Settings) -> Redis | None:
    """A client for RELAY_REDIS_URL (connections are opened on first use), or None."""
    if not settings.redis_url:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=0,
    )
