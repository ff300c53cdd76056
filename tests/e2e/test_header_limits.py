"""Request headers are bounded in `relay serve`'s HTTP protocol: past 64 KiB or 100
fields, 431 with a JSON `detail`, before the app runs and before megabytes are kept.
The review sent one 20 MB header and 20,000 fields, and both were accepted."""

from __future__ import annotations

import json
import socket

import pytest

from tests.live_server import LiveServer

pytestmark = pytest.mark.backend_independent


def exchange(server: LiveServer, request: bytes) -> tuple[bytes, bytes]:
    """(status line, body) of the answer to a raw request on a fresh connection."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


def get(headers: list[bytes]) -> bytes:
    return (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + b"".join(header + b"\r\n" for header in headers)
        + b"\r\n"
    )


def test_a_header_over_64_kib_is_431(live_server: LiveServer) -> None:
    status, body = exchange(live_server, get([b"X-Big: " + b"a" * 70_000]))
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert json.loads(body) == {
        "detail": "Request headers over 64 KiB",
        "code": "headers_too_large",
    }


def test_more_than_100_fields_is_431(live_server: LiveServer) -> None:
    many = [b"X-Field-%d: 1" % number for number in range(100)]
    status, body = exchange(live_server, get(many))  # 102 with Host and Connection
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert json.loads(body) == {
        "detail": "More than 100 request header fields",
        "code": "headers_too_large",
    }


def test_ordinary_requests_pass(live_server: LiveServer) -> None:
    status, _ = exchange(
        live_server, get([b"X-Field-%d: 1" % n for n in range(90)] + [b"X-Long: " + b"b" * 8000])
    )
    assert status == b"HTTP/1.1 200 OK"
