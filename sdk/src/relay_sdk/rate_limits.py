"""A key's own rate limit: the setting (`RateLimit`, part of every ApiKey that has one)
and what the server said about it in an answer (`RateLimitStatus`, from the IETF
draft's RateLimit-* headers that every answer to a limited key carries)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` in any `per_seconds` seconds; more are answered 429."""

    requests: int
    per_seconds: int


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The RateLimit-* headers of one answer to a key that has a rate limit."""

    limit: int
    remaining: int
    # Seconds until the oldest request counted leaves the window, freeing a place.
    reset: int
    # As sent, e.g. "600;w=60": the limit and its window in seconds.
    policy: str | None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimitStatus | None:
        """The status in `headers`; None when they hold none (a key without a limit) or
        hold something unreadable, which must not turn a good answer into an error."""
        try:
            return cls(
                limit=int(headers["RateLimit-Limit"]),
                remaining=int(headers["RateLimit-Remaining"]),
                reset=int(headers["RateLimit-Reset"]),
                policy=headers.get("RateLimit-Policy"),
            )
        except (KeyError, ValueError):
            return None
