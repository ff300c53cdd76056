"""A response made at once leaves the server in one write: one TCP segment with data
on loopback, where uvicorn alone wrote its head and its body apart (two segments, and
two wake-ups of the client, for every small JSON answer). Counted by the client's
kernel (TCP_INFO), on a real server."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys

import pytest

from relay.http_protocol import HeldHead
from tests.test_http_protocol_timeouts import connect, serving
from tests.test_serving import answer_on

pytestmark = [
    pytest.mark.backend_independent,
    pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO's layout is Linux's"),
]

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, segments received that carried data.
DATA_SEGS_IN_OFFSET = 152


def data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    (count,) = struct.unpack_from("I", info, DATA_SEGS_IN_OFFSET)
    return int(count)


def test_each_answer_comes_in_one_segment() -> None:
    with serving() as port:
        sock = connect(port)
        with sock:
            assert data_segments_in(sock) == 0
            for served in range(1, 4):  # and again on the kept-alive connection
                assert answer_on(sock).isdigit()
                assert data_segments_in(sock) == served


async def test_a_head_sent_alone_still_goes_out_at_the_end_of_the_loops_turn() -> None:
    """A stream whose body comes later: its head is not held past the turn."""
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    with ours, peer:
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        peer.setblocking(False)
        held = HeldHead(transport, loop)  # type: ignore[arg-type]
        held.write(b"head")
        with pytest.raises(BlockingIOError):  # held, within this turn
            peer.recv(16)
        async with asyncio.timeout(10):
            assert await loop.sock_recv(peer, 16) == b"head"
        held.write(b"body")  # after the head, straight through
        async with asyncio.timeout(10):
            assert await loop.sock_recv(peer, 16) == b"body"
        held.close()
        async with asyncio.timeout(10):
            assert await loop.sock_recv(peer, 16) == b""
