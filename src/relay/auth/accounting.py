"""Per-request accounting for requests made with a key: the key's RateLimit-* headers
on whatever answer goes out (an error included, a 204 included), and the use recorded
with its final status once the answer is sent (see activity.py)."""

from __future__ import annotations

from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.auth.activity import KeyActivity


@lru_cache(maxsize=64)
def _raw_name(name: str) -> bytes:
    """A header's name as ASGI sends it (the RateLimit fields: a handful of names)."""
    return name.lower().encode()


class KeyAccountingMiddleware:
    def __init__(self, app: ASGIApp, activity: KeyActivity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = scope.get("state", {}).get("rate_limit_headers")
                if extra:
                    message["headers"] = [
                        *message.get("headers", []),
                        *((_raw_name(name), value.encode()) for name, value in extra.items()),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            state = scope.get("state", {})
            principal = state.get("principal")
            if principal is not None:
                user_agent = dict(scope["headers"]).get(b"user-agent", b"").decode("latin-1")
                self.activity.record_use(
                    principal,
                    status,
                    state["client_address"],
                    user_agent or None,
                    # Refused for its address: counted, but no use from a new address.
                    sighting=not state.get("address_refused", False),
                    scope=state.get("scope_used"),
                )
