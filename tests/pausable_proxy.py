"""A TCP proxy that can stop passing bytes: a database or Redis that hangs."""

from __future__ import annotations

import asyncio


class PausableProxy:
    """A TCP proxy to a local server (PostgreSQL, Redis) that can stop passing bytes
    either way: a server that hangs (a stopped VM, a network partition) rather than
    refusing. `arrived` is set whenever bytes reach it, passed on or held; `accepted`
    counts the connections clients opened."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.arrived = asyncio.Event()
        self.accepted = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.arrived.set()
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.flowing.set()
