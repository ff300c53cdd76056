"""uvicorn's HTTP/1.1 protocol (httptools) with bounded request headers: more than
64 KiB of headers, or more than 100 header fields, is refused with 431 before the
app sees the request, and before the parser buffers megabytes of them.

httptools has no limit of its own (a 20 MB header and 20,000 fields were accepted),
and the app cannot refuse what uvicorn has already buffered, so the limit lives in
the protocol: header bytes are counted as the parser delivers them, and chunks that
leave the headers incomplete are counted as they arrive, so the parser never
buffers much more than the limit.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100


class _HeaderLimit(Exception):
    """Raised from a parser callback; the parser turns it into its own error."""


class BoundedHeadersProtocol(HttpToolsProtocol):
    _in_headers = True
    _header_bytes = 0
    _parsed_bytes = 0
    _header_fields = 0
    _refusal: str | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._parsed_bytes = 0
        self._header_fields = 0

    def data_received(self, data: bytes) -> None:
        counting = self._in_headers
        super().data_received(data)
        # A chunk after which the headers are still not complete is all header: the
        # parser has buffered it. (A chunk that completes them may carry a large
        # body's first bytes, so it is not counted.)
        if counting and self._in_headers and not self.transport.is_closing():
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
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # The parser reports a callback's exception as a malformed request.
        if self._refusal is not None:
            self._refuse(self._refusal)
            return
        super().send_400_response(msg)

    def _refuse(self, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()
