"""Hearing about revocations made by other processes: PostgreSQL LISTEN/NOTIFY.

Each worker keeps one connection LISTENing on the revocation channel and, as soon as
a notification arrives, drops from its cache every key whose lineage includes the key
family it names (a key of the family was revoked, rotated or its limit changed: the
family's own keys and every key it made, whose limits count over it). While that
connection is down the worker's cache is not trusted (every key is checked in the
database), and when it is back the cache is emptied, since notifications sent
meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from relay import metrics
from relay.auth.service import REVOCATION_CHANNEL
from relay.auth.verifier import KeyVerifier
from relay.background import BackgroundTask

logger = logging.getLogger(__name__)

# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "relay-revocations"


class RevocationListener:
    """Runs beside the app in each worker; restarts its connection when it breaks."""

    def __init__(
        self,
        connect_args: dict[str, Any],
        verifier: KeyVerifier,
        *,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        ping_interval: float = 1.0,
        connect_timeout: float = 3.0,
    ) -> None:
        # asyncpg.connect's arguments (reads.asyncpg_connect_args).
        self._connect_args = connect_args
        self._verifier = verifier
        self._ping_interval = ping_interval
        self._connect_timeout = connect_timeout
        self._on_reconnect = on_reconnect
        self._was_connected = False
        self._task = BackgroundTask(self._run, name="relay-revocation-listener")
        self.notifications_received = 0
        self.connection_pid: int | None = None
        self.connected = asyncio.Event()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notifications_received += 1
        metrics.REVOCATION_NOTIFICATIONS.inc()
        try:
            family_id = uuid.UUID(payload)
        except ValueError:
            # Not a family Relay sent: whatever it meant, forgetting everything is safe.
            logger.warning("unexpected revocation notification: dropping every cached key")
            self._verifier.cache.clear()
            return
        self._verifier.cache.forget_family(family_id)

    def _on_lost(self, _connection: Any) -> None:
        self._verifier.mark_untrusted()
        self.connected.clear()

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            **self._connect_args,
            timeout=self._connect_timeout,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            connection.add_termination_listener(self._on_lost)
            await connection.add_listener(REVOCATION_CHANNEL, self._on_notification)
            self.connection_pid = connection.get_server_pid()
            if self._was_connected and self._on_reconnect is not None:
                # The channel broke, so the server may have restarted: pooled
                # connections may be dead too; replace them before they fail a request.
                await self._on_reconnect()
            self._was_connected = True
            # Listening from now on; whatever was revoked before is re-read.
            self._verifier.mark_trusted()
            self.connected.set()
            while not connection.is_closed():
                # A ping catches a silent network failure the socket would not report.
                await connection.fetchval("SELECT 1", timeout=self._ping_interval)
                await asyncio.sleep(self._ping_interval)
        finally:
            self._on_lost(connection)
            with contextlib.suppress(Exception):
                await connection.close(timeout=1)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except Exception as exc:
                # Whatever broke (asyncpg can also fail with its own internal client
                # errors while a server shuts down), the listener must live on: it
                # is what lets this worker trust its cache again.
                logger.warning(
                    "revocation channel down, checking keys in the database: %s: %s",
                    type(exc).__name__,
                    exc,
                )
            await asyncio.sleep(self._ping_interval)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
