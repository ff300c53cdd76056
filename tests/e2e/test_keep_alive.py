"""`relay serve` keeps idle connections as long as RELAY_KEEP_ALIVE_TIMEOUT says."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live_server import run_server

pytestmark = pytest.mark.live_server


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_the_server_closes_an_idle_connection_after_the_keep_alive_timeout(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'relay.db'}"
    env = {"RELAY_KEEP_ALIVE_TIMEOUT": "1"}
    with run_server(database_url, tmp_path / "serve.log", env=env) as server:
        address = urlsplit(server.base_url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            for _ in range(2):  # the connection is kept between requests...
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
                assert read_response(sock).startswith(b"HTTP/1.1 200")
            idle_since = time.monotonic()
            # ...and closed by the server once idle for the configured second, well
            # before uvicorn's own default of 5 s would (recv times out at 4 s).
            sock.settimeout(4)
            assert sock.recv(1) == b""
            assert time.monotonic() - idle_since >= 0.9
