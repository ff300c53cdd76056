"""Serving the app: uvicorn with Relay's options, and with several workers a
listening socket each.

uvicorn's own `--workers` gives every worker one shared listening socket, and the
worker that wakes first accepts every connection waiting: a client that opens 32
connections at once (a load balancer, a pool, wrk) may find 31 of them on one worker
and 1 on the other, and its slowest requests wait behind the crowded worker's queue.
Here each worker listens on a socket of its own, bound to the same address with
SO_REUSEPORT, and the kernel spreads new connections over the sockets by a hash of
their addresses: an even share on average, whichever worker wakes first. (Linux
lets only processes of the same user join such a group of sockets.)

This process first binds the address alone (without SO_REUSEPORT), so a port already
in use, by anything including another Relay, is one error here, as it is with one
worker, whose socket this process binds too (CannotListen either way). Then it binds
the group, and relay.supervisor runs a worker on each socket.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import logging.config
import os
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from relay.config import Settings, get_settings, served_url
from relay.http_protocol import BoundedHeadersProtocol, HeaderGate
from relay.observability import chosen_log_format, logging_config
from relay.supervisor import Supervisor, WorkerCannotStart

logger = logging.getLogger(__name__)


class CannotServe(Exception):
    """The app cannot start: one line for the operator (the log above it says more)."""


class CannotListen(CannotServe):
    """host:port cannot be bound: taken (by anything, another Relay included), not an
    address of this machine, or a port below 1024 without the right to it."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "factory": True,
        "log_level": settings.log_level,
        "log_config": logging_config(
            settings.log_level, chosen_log_format(settings.log_format, sys.stderr)
        ),
        "access_log": False,  # Relay logs each request itself
        "timeout_keep_alive": settings.keep_alive_timeout,
        # Relay reads X-Forwarded-For itself, only from RELAY_TRUSTED_PROXIES.
        "proxy_headers": False,
        # One gate per worker process: each worker unpickles its own copy, so counts
        # of connections in their headers are per worker, as the settings say.
        "http": functools.partial(
            BoundedHeadersProtocol,
            gate=HeaderGate(
                timeout=settings.header_timeout,
                body_timeout=settings.body_timeout,
                max_per_address=settings.max_header_connections_per_address,
                trusted_proxies=settings.trusted_proxies,
            ),
        ),
    }


def serve(
    app: str, settings: Settings, *, host: str, port: int, workers: int, notes: Sequence[str] = ()
) -> None:
    """Serve `app` (an import string naming an app factory) until stopped. Once host:port
    is bound, logs the address to open first, then `notes` (a first-run hint, say).
    CannotListen when host:port cannot be bound, with one worker as with several."""
    options = uvicorn_options(settings)
    # Only Linux spreads connections over a group of SO_REUSEPORT sockets (macOS has
    # the option, and gives every connection to one socket).
    supervised = workers > 1 and sys.platform == "linux"
    with contextlib.ExitStack() as cleanup:
        try:
            if supervised:
                port = free_port_of(host, port)
            sockets = [
                cleanup.enter_context(listening_socket(host, port, shared=supervised))
                for _ in range(workers if supervised else 1)
            ]
            port = sockets[0].getsockname()[1]  # the kernel's choice, for port 0
        except (OSError, OverflowError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise CannotListen(f"Cannot listen on {host}:{port}: {reason}") from exc
        if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker writes its metrics here; /metrics adds them up.
            metrics_dir = cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="relay-metrics-")
            )
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            # Gone with the directory: nothing started after may look for it.
            cleanup.callback(os.environ.pop, "PROMETHEUS_MULTIPROC_DIR", None)
        cleanup.enter_context(_address_in_environment(host, port))
        logging.config.dictConfig(options["log_config"])
        _announce(host, port, workers, notes)
        if supervised:
            supervisor = Supervisor(
                app, sockets, options=options, heartbeat_timeout=settings.worker_heartbeat_timeout
            )
            try:
                supervisor.run()
            except WorkerCannotStart as exc:
                raise CannotServe(str(exc)) from exc
        elif workers > 1:
            sockets[0].close()  # uvicorn's own workers share one socket, which it binds itself
            uvicorn.run(app, host=host, port=port, workers=workers, **options)
        else:
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=sockets)


@contextlib.contextmanager
def _address_in_environment(host: str, port: int) -> Iterator[None]:
    """RELAY_HOST and RELAY_PORT set to the address served while it is served. The app
    reads its settings from the environment (in this process, or in each worker), and
    without RELAY_PUBLIC_URL its links name host and port: so `relay serve --port 9000`
    hands out links to port 9000, not to RELAY_PORT's."""
    saved = {name: os.environ.get(name) for name in ("RELAY_HOST", "RELAY_PORT")}
    os.environ["RELAY_HOST"], os.environ["RELAY_PORT"] = host, str(port)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def _announce(host: str, port: int, workers: int, notes: Sequence[str]) -> None:
    """The address to open, the first line a person reads; then the notes."""
    local = served_url(host, port)
    public = get_settings().public_url
    logger.info(
        "Relay is serving on %s (dashboard and API)%s%s",
        local,
        f" with {workers} workers" if workers > 1 else "",
        f"; its links name {public} (RELAY_PUBLIC_URL)" if public != local else "",
    )
    for note in notes:
        logger.info("%s", note)


def free_port_of(host: str, port: int) -> int:
    """The port, once bound alone (no SO_REUSEPORT) and let go: OSError when anything
    holds it, a group of sockets like ours included. Port 0: the one the kernel chose."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def listening_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A socket listening on host:port; `shared`: one that other sockets of this user
    may share (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock  # multiprocessing hands each worker its socket (no inheritance needed)
