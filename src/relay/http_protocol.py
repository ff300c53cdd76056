"""uvicorn's HTTP/1.1 protocol (httptools) with requests bounded in size, in time and
in number, before the app sees them:

- More than 64 KiB of headers, or more than 100 header fields, is refused with 431,
  before the parser buffers megabytes of them. httptools has no limit of its own (a
  20 MB header and 20,000 fields were accepted), and the app cannot refuse what
  uvicorn has already buffered: header bytes are counted as the parser delivers them,
  and chunks that leave the headers incomplete are counted as they arrive.
- A request's headers must arrive whole within RELAY_HEADER_TIMEOUT seconds of its
  start, or the connection is closed (408 if any of the request came). uvicorn bounds
  only the idle time between requests: a connection that sent nothing, or half a
  request, was kept for good (an outside review held 50 of them for 90 s).
- Its body must then arrive whole within RELAY_BODY_TIMEOUT seconds of the end of
  its headers, or the connection is closed (408 if no answer has started). A second
  review held connections for 90 s with complete headers and one byte of body.
- A peer address (an IPv6 /64, which one host commonly has) may have at most
  RELAY_MAX_HEADER_CONNECTIONS_PER_ADDRESS connections whose request has not arrived
  whole (headers or body); a new connection past that is closed at once.

All are per worker process: serving.py hands each worker a copy of one HeaderGate.

And a response goes out in one write when it can: uvicorn writes the status line and
headers as soon as the app sends them, then the body in a second write, which made two
TCP segments (and two wake-ups of the client) for every small JSON answer. The head is
held until the body's first write in the same turn of the event loop (HeldHead).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# relay.clients decides which addresses are trusted proxies; one rule for both uses.
from relay.clients import is_trusted, trusted_networks
from relay.errors import error_body

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100
# After a refusal (408, 431) the answer is sent and the sending side shut, then what
# the client still sends is read and dropped for up to this long before the close. A
# socket closed with unread input answers it with a reset, and a client still sending
# its request (byte by byte, say) then loses the answer to that reset: the lingering
# close nginx makes for the same reason.
LINGER_SECONDS = 2.0


def peer_key(address: str) -> str:
    """What connections are counted by: the address, or its /64 for IPv6 (a host
    commonly holds a whole /64, and could take a new address for each connection)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class HeaderGate:
    """The header and body deadlines, and how many connections each peer has with a
    request not yet received whole, in this worker process.

    Counted by the socket's peer address. Behind a reverse proxy every connection
    comes from the proxy, so one client's slow headers would count against every
    client's: addresses in RELAY_TRUSTED_PROXIES are counted but never refused (the
    proxy reads a client's headers whole before it forwards them, and bounds them with
    its own timeout). They still get the deadline, which costs a proxy nothing."""

    def __init__(
        self,
        *,
        timeout: float,
        max_per_address: int,
        trusted_proxies: str,
        body_timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.body_timeout = body_timeout
        self.max_per_address = max_per_address
        self._trusted_proxies = trusted_proxies
        self._in_headers: Counter[str] = Counter()

    def is_full_for(self, address: str) -> bool:
        """Whether a new connection from `address` is to be refused."""
        return self._in_headers[peer_key(address)] >= self.max_per_address and not is_trusted(
            address, trusted_networks(self._trusted_proxies)
        )

    def enter(self, address: str) -> None:
        self._in_headers[peer_key(address)] += 1

    def leave(self, address: str) -> None:
        key = peer_key(address)
        self._in_headers[key] -= 1
        if not self._in_headers[key]:
            del self._in_headers[key]  # the table holds only peers with requests arriving


class _HeaderLimit(Exception):
    """Raised from a parser callback; the parser turns it into its own error."""


class HeldHead:
    """A response's view of its connection's transport: the first write (uvicorn's
    status line and headers) is held, and goes out with the next one (the body) when
    that comes in the same turn of the event loop, as it does for every response made
    at once; otherwise alone at the end of the turn (a stream whose body comes later).
    Everything else is the transport's."""

    __slots__ = ("_head", "_loop", "_transport", "_written")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._written = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._written:
            self._written = True
            self._head = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHeadersProtocol(HttpToolsProtocol):
    """Made by uvicorn for each connection, with `gate` bound by serving.py."""

    _in_headers = True
    _header_bytes = 0
    _parsed_bytes = 0
    _header_fields = 0
    _refusal: str | None = None
    # Runs while a request's headers are awaited (the header deadline), then its body
    # (the body deadline), and the connection is counted in the gate for as long: from
    # the connection's opening, then from each next request's first byte, until the
    # request has arrived whole.
    _deadline: asyncio.TimerHandle | None = None
    _received = False  # any byte of the request whose headers are awaited
    _between_requests = False  # after one request's last byte, before the next's first
    _lingering = False  # refused: answered and half-closed, input dropped until the close

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        gate: HeaderGate,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._gate = gate

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client is not None and self._gate.is_full_for(self.client[0]):
            # Refused before a byte is read, as a firewall's connection limit would: no
            # request has come to answer, and an answer written now could be lost to the
            # reset with which the kernel meets the request arriving after the close.
            self.transport.close()
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_awaiting_request()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._received = False
        self._deadline = self.loop.call_later(self._gate.timeout, self._headers_timed_out)
        if self.client is not None:
            self._gate.enter(self.client[0])

    def _stop_awaiting_request(self) -> None:
        if self._deadline is None:
            return
        self._deadline.cancel()
        self._deadline = None
        if self.client is not None:
            self._gate.leave(self.client[0])

    def _headers_timed_out(self) -> None:
        self._stop_awaiting_request()
        self._between_requests = False  # what comes after is no new request's start
        if self._finished():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is late while the one before it is still answered:
            # close once that answer is sent rather than cut it short.
            self.cycle.keep_alive = False
        elif self._received:
            self._answer_and_close(
                b"408 Request Timeout",
                f"Request headers not received within {self._gate.timeout:g} s",
                "request_timeout",
            )
        else:
            # Nothing asked, nothing to answer. A browser's preconnected socket ends
            # here; a 408 would be read as the answer to whatever it sends next.
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._parsed_bytes = 0
        self._header_fields = 0
        self._between_requests = False
        if self._deadline is None:  # a pipelined request, in the chunk that ended the last
            self._await_headers()
        self._received = True

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        # Between requests, uvicorn's keep-alive timeout bounds the idle connection (and
        # stops at any byte), so the idle time stays RELAY_KEEP_ALIVE_TIMEOUT's to set:
        # ending it at the header timeout would close kept connections under clients that
        # are about to reuse them. The deadline starts at the next request's first byte,
        # a bare CRLF included (the parser skips those without beginning a message).
        if self._between_requests and self._deadline is None and not self._finished():
            self._await_headers()
        if self._deadline is not None:
            self._received = True
        counting = self._in_headers
        super().data_received(data)
        # A chunk after which the headers are still not complete is all header: the
        # parser has buffered it. (A chunk that completes them may carry a large
        # body's first bytes, so it is not counted.)
        if counting and self._in_headers and not self._finished():
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(f"Request headers over {MAX_HEADER_BYTES // 1024} KiB")

    def _count(self, size: int) -> None:
        # Headers that arrive whole in one chunk are measured here, as parsed.
        self._parsed_bytes += size
        if self._parsed_bytes > MAX_HEADER_BYTES:
            self._refusal = f"Request headers over {MAX_HEADER_BYTES // 1024} KiB"
            raise _HeaderLimit

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_fields += 1
        if self._header_fields > MAX_HEADER_FIELDS:
            self._refusal = f"More than {MAX_HEADER_FIELDS} request header fields"
            raise _HeaderLimit
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if self._deadline is not None:  # the body's deadline from now, still counted
            self._deadline.cancel()
            self._deadline = self.loop.call_later(self._gate.body_timeout, self._body_timed_out)
        super().on_headers_complete()
        # The request's cycle is made, and its app starts at the loop's next turn.
        if self.cycle is not None:
            self.cycle.transport = HeldHead(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._stop_awaiting_request()
        self._between_requests = True
        super().on_message_complete()

    def _body_timed_out(self) -> None:
        self._stop_awaiting_request()
        if self._finished():
            return
        if self.cycle is not None and self.cycle.response_started:
            # Answered already (without reading the body): no other answer to give.
            self.cycle.keep_alive = False
            if self.cycle.response_complete:
                self.transport.close()
            return
        self._answer_and_close(
            b"408 Request Timeout",
            f"Request body not received within {self._gate.body_timeout:g} s",
            "request_timeout",
        )

    def send_400_response(self, msg: str) -> None:
        # The parser reports a callback's exception as a malformed request.
        if self._refusal is not None:
            self._refuse(self._refusal)
            return
        super().send_400_response(msg)

    def _finished(self) -> bool:
        """Closed or closing, or refused and lingering: nothing more is read or answered."""
        return self._lingering or self.transport.is_closing()

    def _refuse(self, detail: str) -> None:
        self._answer_and_close(b"431 Request Header Fields Too Large", detail, "headers_too_large")

    def _answer_and_close(self, status: bytes, detail: str, code: str) -> None:
        body = json.dumps(error_body(detail, code)).encode()
        head = (
            b"HTTP/1.1 " + status + b"\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # Shut the sending side once the answer is flushed; the peer's end of input
        # (eof_received's default) or the linger's end closes the socket. An app still
        # awaiting the body hears now, as it would from the close, that the client is gone.
        self._lingering = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
