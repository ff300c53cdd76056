"""Relay's app as a module-level ASGI app, for serving it with granian in
bench/http_bench.py --candidates (granian 2.8 takes an app, not a factory):

    granian --interface asgi --loop uvloop --workers 2 --port 8002 granian_app:app

Granian runs the app without Relay's HTTP protocol (relay.http_protocol): no header or
body timeouts and no cap on slow connections per address, which `relay serve` has. It is
here to measure the ASGI server's share of a request, not to serve Relay.
"""

from __future__ import annotations

from relay.app import create_app

app = create_app()
