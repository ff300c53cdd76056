"""Absolute links Relay hands out (pagination, invitations, reset and sign-up links),
built from RELAY_PUBLIC_URL, or when it is unset from the address served (see
config.served_url; `relay serve --port` sets it for the app): never from the request's
Host header, which a client chooses."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from relay.config import Settings


def public_url(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


def next_link(request: Request, **params: object) -> str:
    """A `Link: <...>; rel="next"` header value: this route, with `params` in its query."""
    query = urlencode({**request.query_params, **{k: str(v) for k, v in params.items()}})
    url = public_url(request.app.state.settings, request.url.path)
    return f'<{url}?{query}>; rel="next"'
