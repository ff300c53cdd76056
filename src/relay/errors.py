"""Domain errors, and the handlers that turn every failure into JSON with a `detail`."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg.exceptions as asyncpg_errors
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from relay.text import UnstorableText

logger = logging.getLogger(__name__)

SERVICE_UNAVAILABLE = "Service temporarily unavailable"
# OperationalError covers a refused connection as well as SQLite's "database is
# locked": both pass, so the caller may retry. asyncpg's own classes cover a server
# that is shutting down or starting ("the database system is shutting down"),
# which SQLAlchemy wraps as a plain DBAPIError.
_UNAVAILABLE_ERRORS = (
    PoolTimeoutError,
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    asyncpg_errors.OperatorInterventionError,
    # "too many connections", out of memory or disk: the server is there but full.
    asyncpg_errors.InsufficientResourcesError,
    asyncpg_errors.PostgresConnectionError,
    asyncpg_errors.ConnectionDoesNotExistError,
)


class RelayError(Exception):
    """An expected failure with a status code and a message safe to show the caller."""

    status_code = 400

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, field: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        # The input the error is about ("email", "password"), for a form to mark.
        self.field = field


class NotFoundError(RelayError):
    status_code = 404


class ConflictError(RelayError):
    status_code = 409


class InvalidInput(RelayError):
    """422 for input only the service can judge, in FastAPI's validation shape (as
    every 422 is): `loc` names the input, e.g. ("query", "cursor")."""

    status_code = 422

    def __init__(self, detail: str, *, loc: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.loc = loc


class AuthenticationError(RelayError):
    """401, with `reason` for metrics: missing, invalid, revoked or expired."""

    status_code = 401

    def __init__(self, detail: str, *, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.reason = reason


def driver_state_broken(exc: BaseException) -> bool:
    """True for asyncpg's errors about its own connection rather than the query:
    "connection is closed", "another operation is in progress", an internal state
    error. Seen when PostgreSQL stops mid-statement; such a connection must never be
    used again. (asyncpg's InterfaceError subclasses, bad arguments among them, are
    the caller's mistakes, not this.)"""
    return type(exc) is asyncpg_errors.InterfaceError or isinstance(
        exc, asyncpg_errors.InternalClientError
    )


def is_connection_failure(exc: BaseException) -> bool:
    """True when `exc`, or what caused it, means "the database is unreachable or busy"."""
    current: BaseException | None = exc
    while current is not None:
        if (
            isinstance(current, _UNAVAILABLE_ERRORS)
            or driver_state_broken(current)
            or (isinstance(current, DBAPIError) and current.connection_invalidated)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


async def _relay_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RelayError)
    if isinstance(exc, InvalidInput):
        return validation_response([{"type": "value_error", "loc": exc.loc, "msg": exc.detail}])
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


# Errors shown in one 422; the rest are counted in a last entry, so the answer stays
# small whatever the body held.
MAX_ERRORS_SHOWN = 20


# What an error may echo of the request (a field's name in `loc`): an unknown field
# named with a megabyte came back whole in the 422 before (an outside review).
MAX_ECHOED = 100


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ECHOED:
        return f"{value[:MAX_ECHOED]}… ({len(value)} characters)"
    return value


def _bounded_loc(loc: Any) -> Any:
    return [_bounded(part) for part in loc] if isinstance(loc, list | tuple) else _bounded(loc)


def validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    """422 in FastAPI's validation shape, minus `input` (echoing the request back could
    repeat a secret or a megabyte of text) and `ctx` (it holds Python exception
    objects, which serialise as {}; `msg` already says the same in words); what it
    still echoes (a field's name in `loc`) is cut to MAX_ECHOED characters."""
    shown = [
        {
            key: _bounded_loc(value) if key == "loc" else _bounded(value)
            for key, value in error.items()
            if key not in {"input", "url", "ctx"}
        }
        for error in errors[:MAX_ERRORS_SHOWN]
    ]
    if len(errors) > MAX_ERRORS_SHOWN:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown.append({"type": "too_many_errors", "loc": ["body"], "msg": f"and {more} more errors"})
    return JSONResponse({"detail": jsonable_encoder(shown)}, status_code=422)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(list(exc.errors()))


# FastAPI answers a JSON body it cannot decode at all (not UTF-8, nested past
# Python's recursion limit) with this 400, while a body that is merely not JSON
# gets 422: one contract instead, 422 in the validation shape for every bad body.
_UNPARSEABLE_BODY = "There was an error parsing the body"
UNDECODABLE_BODY_ERROR = {
    "type": "json_invalid",
    "loc": ["body"],
    "msg": "JSON decode error: the body is not UTF-8 encoded JSON",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        return validation_response([UNDECODABLE_BODY_ERROR])
    return await http_exception_handler(request, exc)


async def _database_error(_request: Request, exc: Exception) -> Response:
    if not is_connection_failure(exc):
        raise exc
    logger.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse({"detail": SERVICE_UNAVAILABLE}, status_code=503)


def unstorable_text(exc: BaseException) -> UnstorableText | None:
    """The text a column refused (relay.db.StoredString), behind the statement's error."""
    orig = exc.orig if isinstance(exc, StatementError) else None
    return orig if isinstance(orig, UnstorableText) else None


async def statement_error(request: Request, exc: Exception) -> Response:
    """A column refused a value no rule stopped before (a 422, not a 500); any other
    statement error is the database's."""
    refused = unstorable_text(exc)
    if refused is None:
        return await _database_error(request, exc)
    logger.warning("text refused by its column", extra={"reason": refused.kind})
    return validation_response([{"type": refused.kind, "loc": ["body"], "msg": str(refused)}])


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled %s", type(exc).__name__)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise leaves as JSON with a `detail`."""
    app.add_exception_handler(RelayError, _relay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Registered per class so that an outage is answered (503) and not re-raised
    # to the server as a crash; anything else still ends as a logged 500.
    driver_errors = (asyncpg_errors.InterfaceError, asyncpg_errors.InternalClientError)
    for error_class in (*_UNAVAILABLE_ERRORS, *driver_errors, DBAPIError):
        app.add_exception_handler(error_class, _database_error)
    app.add_exception_handler(StatementError, statement_error)
    app.add_exception_handler(Exception, _unexpected_error)
