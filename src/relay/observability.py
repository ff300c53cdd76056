"""Logs: one line per request, with a request id the client can send; JSON lines, or
readable text lines for a person at a terminal (RELAY_LOG_FORMAT).

The access line names the key by its 12-character prefix at most; a key, a
password or a session token is never logged, and whatever has their shape is
redacted from every line (relay.log_redaction).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from typing import Any, Literal, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay import metrics
from relay.log_redaction import redact

access_logger = logging.getLogger("relay.access")

REQUEST_ID_HEADER = b"x-request-id"
UNMATCHED_ROUTE = "(unmatched)"
_ACCEPTED_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Fields of a record that are the logging module's own, not ours to print.
_STANDARD_FIELDS = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class _RedactingFormatter(logging.Formatter):
    """What every line is made of, whatever its format: time, level, logger, message,
    any extra fields and the traceback, with anything shaped like a secret redacted."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD_FIELDS}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # Whatever a message, an extra field or a traceback holds, nothing shaped like a
        # secret leaves (relay.log_redaction); redacted before any format escapes its text.
        redacted: dict[str, Any] = _redacted(line)
        return redacted


_RedactingFormatter.converter = time.gmtime


class JsonFormatter(_RedactingFormatter):
    """One JSON object per line: time, level, logger, message and any extra fields,
    with anything shaped like a secret redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record))


class TextFormatter(_RedactingFormatter):
    """For a person at a terminal: `14:02:11 message key=value ...`, the level named
    from warnings up, a traceback on the lines below; redacted as the JSON lines are,
    and with control characters shown as escapes, so that no logged text can move the
    cursor or recolour the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        # Local time: the person reading it is here, now (JSON lines are for
        # collectors, in UTC).
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = "" if record.levelno < logging.WARNING else f"{record.levelname} "
        extras = "".join(
            f" {name}={_text_value(value)}"
            for name, value in fields.items()
            if name not in _TEXT_OMITTED and value is not None
        )
        line = f"{clock} {level}{_printable(fields['message'])}{extras}"
        if "exception" in fields:
            line += "".join(f"\n  {_printable(part)}" for part in fields["exception"].splitlines())
        return line


# Shown by TextFormatter in its own way, or not at all (the logger: a person reads the
# message).
_TEXT_OMITTED = {"time", "level", "logger", "message", "exception"}
# C0 and C1 controls, DEL, bidi marks and line separators: shown as escapes.
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _printable(text: str) -> str:
    return _CONTROLS.sub(lambda match: repr(match.group())[1:-1], text)


def _text_value(value: Any) -> str:
    """A field's value for a text line: quoted when it has spaces or quotes in it."""
    if isinstance(value, str) and value and not any(c in value for c in " \"'="):
        return _printable(value)
    if isinstance(value, bool | int | float):
        return str(value)
    return _printable(json.dumps(value, ensure_ascii=False))


def _redacted(value: Any) -> Any:
    """`value` with every string in it redacted; what JSON cannot hold becomes its str."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(key): _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


LogFormat = Literal["text", "json"]


def chosen_log_format(setting: str, stream: TextIO) -> LogFormat:
    """RELAY_LOG_FORMAT made definite: `auto` is text when `stream` is a terminal."""
    if setting == "auto":
        return "text" if stream.isatty() else "json"
    return "text" if setting == "text" else "json"


def logging_config(level: str, line_format: LogFormat = "json") -> dict[str, Any]:
    """A dictConfig for the app and uvicorn: lines on stderr, in `line_format`."""
    formatter = TextFormatter if line_format == "text" else JsonFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"lines": {"()": formatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "lines", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "propagate": False},
            # At debug they print every statement with its values (hide_parameters does
            # not reach aiosqlite's own lines): never below warning.
            "aiosqlite": {"level": "WARNING"},
            "sqlalchemy": {"level": "WARNING"},
            "asyncpg": {"level": "WARNING"},
        },
    }  # fmt: skip


def route_template(scope: Scope) -> str:
    """The path with its parameters put back as names: /api/v1/datasets/{dataset_id};
    under a mount (static files, the docs' assets) the mount's path: /static/{path}."""
    if "app_root_path" in scope:  # set by a Mount only; root_path then ends with its path
        mount = scope["root_path"][len(scope["app_root_path"]) :]
        return f"{mount}/{{path}}"
    values = {str(value).lower(): name for name, value in scope.get("path_params", {}).items()}
    return "/".join(
        f"{{{values[segment.lower()]}}}" if segment.lower() in values else segment
        for segment in scope["path"].split("/")
    )


@functools.lru_cache(maxsize=4096)
def _metrics_of(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one kind of request. Cached: looking
    a labelled child up took prometheus_client about 4 µs a request. The labels are
    bounded (route templates, mounts by their path, the methods httptools parses,
    statuses), the cache is too."""
    return (
        metrics.REQUESTS.labels(method, route, str(status)),
        metrics.LATENCY.labels(method, route),
    )


class RequestLogMiddleware:
    """Gives every request an id (the client's X-Request-ID if sane, else a new one),
    returns it, and logs one line when the response is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == REQUEST_ID_HEADER), b"")
        request_id = sent.decode() if _ACCEPTED_REQUEST_ID.fullmatch(sent) else os.urandom(16).hex()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            principal = scope.get("state", {}).get("principal")
            # An unmatched path is never logged as sent: it may carry a secret
            # (an invitation token with a stray trailing slash, say).
            route = route_template(scope) if "endpoint" in scope else UNMATCHED_ROUTE
            counted, timed = _metrics_of(scope["method"], route, status)
            counted.inc()
            timed.observe(duration)
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(duration * 1000, 2),
                        "tenant_id": str(principal.tenant_id) if principal else None,
                        "key_prefix": principal.key_prefix if principal else None,
                    },
                )
