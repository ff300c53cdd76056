"""Requests are bounded in time and in number by the HTTP protocol every connection
goes through: a request's headers must arrive whole within RELAY_HEADER_TIMEOUT of its
start (408 if any of it came, else a plain close), its body within RELAY_BODY_TIMEOUT
of its headers, and a peer address may have only
RELAY_MAX_HEADER_CONNECTIONS_PER_ADDRESS connections whose request is still arriving.
An outside review held 50 half-sent requests open for 90 s; a second review held
connections with whole headers and one byte of body."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from relay.http_protocol import peer_key
from tests.test_serving import answer_on, open_at_once, supervisor

# Processes and sockets only: the database the suite runs on plays no part.
pytestmark = pytest.mark.backend_independent

HEADER_TIMEOUT = 1.0
# An upper bound only, generous for a loaded machine: the server must have closed the
# connection by then (recv raises TimeoutError otherwise), far short of the review's 90 s.
CLOSED_WITHIN = 10.0


@contextmanager
def serving(
    workers: int = 1, app: str = "tests.serving_app:create_app", **env: str
) -> Iterator[int]:
    """tests.serving_app served as `relay serve` serves Relay, with RELAY_* `env`; its port."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(f"RELAY_{name.upper()}", value)
        with supervisor(workers=workers, app=app) as (_, port):
            yield port


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(header_timeout=str(HEADER_TIMEOUT)) as port:
        yield port


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=CLOSED_WITHIN, source_address=(source, 0)
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (TimeoutError if it does not)."""
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer


def read_status(sock: socket.socket) -> bytes:
    """The status line of one answer with a Content-Length body, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the connection was closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    while len(body) < int(fields[b"content-length"]):
        body += sock.recv(4096)
    return head.split(b"\r\n", 1)[0]


def assert_408(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout", answer
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "detail": "Request headers not received within 1 s",
        "code": "request_timeout",
    }


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(port: int) -> None:
    with connect(port) as sock:
        assert sock.recv(1) == b""


def test_half_sent_headers_are_answered_408_and_closed(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n")
        assert_408(read_until_closed(sock))


def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline(port: int) -> None:
    """The deadline runs from the request's start: a byte every 0.2 s, well within any
    per-read timeout, does not move it."""
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        # Twenty times the timeout's worth of trickle; the answer must come before.
        for _ in range(round(20 * HEADER_TIMEOUT / 0.2)):
            answered, _, _ = select.select([sock], [], [], 0.2)
            if answered:
                break
            sock.sendall(b"a")
        else:
            pytest.fail("the connection was still open after 20 times the header timeout")
        assert_408(read_until_closed(sock))


def test_a_client_still_sending_after_the_408_reads_it_whole(port: int) -> None:
    """The refusal is a lingering close: what arrives after the answer is read and
    dropped, where a plain close would meet it with a reset that can destroy the
    answer before the client reads it (a slow client is still sending, by definition)."""
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        answered, _, _ = select.select([sock], [], [], CLOSED_WITHIN)
        assert answered, "no answer within CLOSED_WITHIN"
        for _ in range(20):  # the rest of its headers, after the answer came
            sock.sendall(b"a" * 100)
        assert_408(read_until_closed(sock))


def test_headers_sent_in_pieces_within_the_deadline_are_served(port: int) -> None:
    with connect(port) as sock:
        for piece in (b"GET / HTT", b"P/1.1\r\nHost: te", b"st\r\n", b"\r\n"):
            sock.sendall(piece)
        assert read_status(sock) == b"HTTP/1.1 200 OK"
        assert answer_on(sock).isdigit()  # and the connection serves the next one


def test_a_kept_alive_connection_may_idle_past_the_header_timeout(port: int) -> None:
    """Between requests the keep-alive timeout (75 s) rules, not the header timeout:
    closing a kept connection sooner than clients expect fails their next request."""
    with connect(port) as sock:
        assert answer_on(sock).isdigit()
        idle, _, _ = select.select([sock], [], [], 3 * HEADER_TIMEOUT)
        assert not idle, "the server closed an idle kept-alive connection"
        assert answer_on(sock).isdigit()


@pytest.mark.parametrize("start", [b"GET / HTTP/1.1\r\nHost", b"\r\n"], ids=["request", "crlf"])
def test_a_kept_alive_connection_must_finish_its_next_requests_headers(
    port: int, start: bytes
) -> None:
    """The deadline starts at the next request's first byte, a bare CRLF too (the
    parser skips those without starting a request, and uvicorn's keep-alive timer
    stops at any byte)."""
    with connect(port) as sock:
        assert answer_on(sock).isdigit()
        sock.sendall(start)
        assert_408(read_until_closed(sock))


def test_every_worker_keeps_the_header_timeout() -> None:
    """The supervisor hands the setting to each worker process it starts."""
    with serving(workers=2, header_timeout=str(HEADER_TIMEOUT)) as port:
        connections = open_at_once(port, 8)  # spread over both workers
        try:
            for sock in connections:
                sock.sendall(b"GET / HTTP/1.1\r\n")
            for sock in connections:
                sock.settimeout(CLOSED_WITHIN)
                assert_408(read_until_closed(sock))
        finally:
            for sock in connections:
                sock.close()


def half_sent(port: int, count: int) -> list[socket.socket]:
    """`count` connections from 127.0.0.1 that stop in the middle of their headers."""
    connections = [connect(port) for _ in range(count)]
    for sock in connections:
        sock.sendall(b"GET / HTTP/1.1\r\n")
    return connections


def test_an_address_at_the_cap_of_connections_in_headers_is_refused_a_new_one() -> None:
    # A deadline far beyond CLOSED_WITHIN: the refusal cannot be the deadline's doing.
    with serving(header_timeout="60", max_header_connections_per_address="3") as port:
        waiting = half_sent(port, 3)
        try:
            # Another address is served; once it is, the server has counted the three
            # (it takes connections in the order they came).
            with connect(port, source="127.0.0.2") as other:
                assert answer_on(other).isdigit()
            with connect(port) as refused:
                assert refused.recv(1) == b""
            for sock in waiting:
                # Closed by the client: once the server has closed its side too, the
                # connection no longer counts.
                sock.shutdown(socket.SHUT_WR)
                assert read_until_closed(sock) == b""
            with connect(port) as again:
                assert answer_on(again).isdigit()
        finally:
            for sock in waiting:
                sock.close()


def test_a_trusted_proxy_is_not_capped() -> None:
    """Behind a proxy every client's connections come from the proxy's address."""
    with serving(
        header_timeout="60", max_header_connections_per_address="3", trusted_proxies="127.0.0.1"
    ) as port:
        waiting = half_sent(port, 3)
        try:
            with connect(port) as fourth:
                assert answer_on(fourth).isdigit()
        finally:
            for sock in waiting:
                sock.close()


READING_APP = "tests.serving_app:create_reading_app"
SLOW_BODY = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\nx"


def test_a_body_that_stops_coming_is_answered_408_and_closed() -> None:
    with serving(app=READING_APP, body_timeout=str(HEADER_TIMEOUT)) as port, connect(port) as sock:
        sock.sendall(SLOW_BODY)
        head, _, body = read_until_closed(sock).partition(b"\r\n\r\n")
        assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
        assert json.loads(body) == {
            "detail": "Request body not received within 1 s",
            "code": "request_timeout",
        }


def test_a_body_sent_in_pieces_within_the_deadline_is_served() -> None:
    with serving(app=READING_APP, body_timeout="5") as port, connect(port) as sock:
        sock.sendall(SLOW_BODY[:-1])
        for _ in range(4):
            sock.sendall(b"x" * 250)
        assert read_status(sock) == b"HTTP/1.1 200 OK"


def test_connections_with_their_body_still_coming_count_toward_the_cap() -> None:
    with serving(
        app=READING_APP, body_timeout="60", max_header_connections_per_address="3"
    ) as port:
        waiting = [connect(port) for _ in range(3)]
        try:
            for sock in waiting:
                sock.sendall(SLOW_BODY)
            with connect(port, source="127.0.0.2") as other:
                assert answer_on(other).isdigit()
            with connect(port) as refused:
                assert refused.recv(1) == b""
        finally:
            for sock in waiting:
                sock.close()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("192.0.2.1", "192.0.2.1"),
    ],
)
def test_ipv6_peers_are_counted_by_their_64(address: str, key: str) -> None:
    assert peer_key(address) == key
