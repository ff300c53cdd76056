"""A body over the limit is always answered 413, never cut off by a reset.

Most HTTP clients write the whole body before reading anything; if the server
closes a socket it has not read to the end, the kernel resets the connection and
the 413 can be lost. The sizes and counts are the issue's: 2, 8 and 32 MiB, 50
times each, over one keep-alive connection and over fresh connections that ask to
be closed after the answer (`Connection: close`, where the reset was seen).
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.live_server import LiveServer

# The 413 is decided before any database work, but the reset was seen on a server on
# PostgreSQL, so the PostgreSQL pass runs these too.

SIZES_MIB = (2, 8, 32)
REPEATS = 50
PATH = "/api/v1/datasets"


def raw_post(server: LiveServer, key: str, body: bytes, *, chunked: bool = False) -> bytes:
    """One request on a fresh socket with Connection: close; the answer's status line."""
    host, port = server.base_url.removeprefix("http://").split(":")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
    ).encode()
    if chunked:
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part)
            for part in (body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20))
        )
        body += b"0\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.create_tenant()["api_key"]


def test_keep_alive_client_always_reads_the_413(live_server: LiveServer, key: str) -> None:
    failures: list[str] = []
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        for size in SIZES_MIB:
            body = b'{"name": "' + b"x" * (size << 20) + b'"}'
            for _ in range(REPEATS):
                try:
                    response = client.post(PATH, content=body, headers=headers)
                except httpx.TransportError as exc:
                    failures.append(f"{size} MiB: {exc!r}")
                    continue
                if response.status_code != 413:
                    failures.append(f"{size} MiB: {response.status_code}")
        # The connection is still good for the next request.
        assert client.get(PATH, headers={"X-API-Key": key}).status_code == 200
    assert failures == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_fresh_connections_always_read_the_413(
    live_server: LiveServer, key: str, chunked: bool
) -> None:
    failures: list[str] = []
    for size in SIZES_MIB:
        body = b"x" * (size << 20)
        for _ in range(REPEATS):
            try:
                status_line = raw_post(live_server, key, body, chunked=chunked)
            except OSError as exc:  # a reset or a broken pipe
                failures.append(f"{size} MiB: {exc!r}")
                continue
            if not status_line.startswith(b"HTTP/1.1 413"):
                failures.append(f"{size} MiB: {status_line!r}")
    assert failures == []


def test_expect_100_continue_gets_the_413_without_sending_the_body(
    live_server: LiveServer, key: str
) -> None:
    host, port = live_server.base_url.removeprefix("http://").split(":")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
        f"Content-Length: {64 << 20}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")
