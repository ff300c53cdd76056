"""Domain errors, and the handlers that turn every failure into JSON with a `detail`
and a `code`.

`detail` is for people (the guide's texts, exactly); `code` is for programs: a stable
snake_case name from ERROR_CODES, the one table of every code Relay answers with. Each
RelayError subclass declares its `code` (a class without one fails when it is
defined), and every other answer (FastAPI's 404/405, a 422, a 503, the protocol's 408)
takes its code from the same table, so a client decides by code, never by text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg.exceptions as asyncpg_errors
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
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


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """What a code means, and the status every answer with it has."""

    status: int
    meaning: str


# Every `code` an error body can carry. Codes are added, never renamed or removed:
# clients switch on them. The API reference and the README list them from here.
ERROR_CODES: dict[str, ErrorCode] = {
    "bad_request": ErrorCode(400, "The request cannot be used as sent."),
    "invalid_api_key": ErrorCode(
        401,
        "Invalid or missing API key: none sent, two sent, malformed, unknown or revoked.",
    ),
    "api_key_expired": ErrorCode(401, "API key expired: its `expires_at` has passed."),
    "quota_exhausted": ErrorCode(
        429, "API key quota exhausted: the key's quota (or a making key's) is used up."
    ),
    "api_key_disabled": ErrorCode(
        401, "API key disabled: suspended (PATCH `disabled: false` resumes it)."
    ),
    "invalid_signature": ErrorCode(
        401, "A leak report without a valid signature from a known reporter key."
    ),
    "invalid_metrics_token": ErrorCode(401, "/metrics without RELAY_METRICS_TOKEN."),
    "sign_in_refused": ErrorCode(401, "Dashboard: wrong email, password or code."),
    "insufficient_scope": ErrorCode(403, "The key lacks the scope the operation requires."),
    "address_not_allowed": ErrorCode(
        403, "API key not allowed from this address: outside its `allowed_ips`."
    ),
    "permission_denied": ErrorCode(
        403,
        "The key may not do this: it cannot make or manage a key allowed more than "
        "itself (a higher rate limit, a later expiry).",
    ),
    "csrf_refused": ErrorCode(403, "Dashboard: a form without a valid CSRF token."),
    "role_refused": ErrorCode(403, "Dashboard: the member's role does not allow the page."),
    "not_found": ErrorCode(404, "No such resource in your tenant, or no such route."),
    "method_not_allowed": ErrorCode(405, "The route does not take this method."),
    "request_timeout": ErrorCode(408, "The request did not arrive in time."),
    "conflict": ErrorCode(409, "The resource's state does not allow it (a rotated key)."),
    "report_replayed": ErrorCode(409, "This leak report was already received."),
    "secret_key_missing": ErrorCode(409, "RELAY_SECRET_KEY is not set on the server."),
    "request_too_large": ErrorCode(413, "The request body is over the size limit."),
    "validation_error": ErrorCode(
        422, "The input is invalid: `detail` lists each problem (`type`, `loc`, `msg`)."
    ),
    "rate_limited": ErrorCode(
        429, "The key (or a key that made it) is over its rate limit: see Retry-After."
    ),
    "too_many_auth_failures": ErrorCode(
        429, "Too many failed authentications from this address: see Retry-After."
    ),
    "too_many_attempts": ErrorCode(
        429,
        "Too many attempts from this address or for this account (sign-ins, sign-ups, "
        "mail, leak reports): see Retry-After.",
    ),
    "headers_too_large": ErrorCode(431, "The request's headers are over the limits."),
    "internal_error": ErrorCode(500, "An unexpected failure; the server logged it."),
    "service_unavailable": ErrorCode(503, "The database does not answer; retry later."),
}

# The code of an answer no RelayError gave (Starlette's HTTPException, by status).
_CODES_BY_STATUS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                    413: "request_too_large", 422: "validation_error"}  # fmt: skip


def error_body(detail: Any, code: str) -> dict[str, Any]:
    """Every error's JSON: `detail` (as before) and its `code` (from ERROR_CODES)."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code!r}: add it to ERROR_CODES")
    return {"detail": detail, "code": code}


class RelayError(Exception):
    """An expected failure with a status code and a message safe to show the caller.

    Each subclass declares its `code` (a key of ERROR_CODES, with this status), so a
    new kind of error cannot reach a client without a code of its own."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must declare its error code (code = ...)")
        known = ERROR_CODES.get(cls.code)
        if known is None or known.status != cls.status_code:
            raise TypeError(
                f"{cls.__name__}.code {cls.code!r} is not an ERROR_CODES code "
                f"of status {cls.status_code}"
            )

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
    code = "not_found"


class ConflictError(RelayError):
    status_code = 409
    code = "conflict"


class InvalidInput(RelayError):
    """422 for input only the service can judge, in FastAPI's validation shape (as
    every 422 is): `loc` names the input, e.g. ("query", "cursor"); `error_type` is the
    entry's `type`, the machine-readable reason beside FastAPI's own (`missing`, ...)."""

    status_code = 422
    code = "validation_error"
    error_type: ClassVar[str] = "value_error"

    def __init__(self, detail: str, *, loc: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.loc = loc


class AuthenticationError(RelayError):
    """401 "Invalid or missing API key", with `reason` for metrics: missing, invalid,
    revoked (or expired, in the subclass)."""

    status_code = 401
    code = "invalid_api_key"

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


async def relay_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RelayError)
    if isinstance(exc, InvalidInput):
        return validation_response([{"type": exc.error_type, "loc": exc.loc, "msg": exc.detail}])
    return error_response(exc.detail, exc.code, exc.status_code, exc.headers)


def error_response(
    detail: Any, code: str, status_code: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error answer: `error_body` as JSON, with `status_code` and `headers`."""
    return JSONResponse(error_body(detail, code), status_code=status_code, headers=headers)


# Errors shown in one 422; the rest are counted in a last entry, so the answer stays
# small whatever the body held.
MAX_ERRORS_SHOWN = 20


# What an error may echo of the request (a field's name in `loc`): an unknown field
# named with a megabyte came back whole in the 422 before (an outside review).
MAX_ECHOED = 100
# A message is Relay's or pydantic's words, not the request's, but may quote a value (a
# validator's): bounded too, long enough to name every choice a field has.
MAX_MESSAGE = 1000


def _bounded(value: Any, limit: int = MAX_ECHOED) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… ({len(value)} characters)"
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
            key: _bounded_loc(value)
            if key == "loc"
            else _bounded(value, MAX_MESSAGE if key == "msg" else MAX_ECHOED)
            for key, value in error.items()
            if key not in {"input", "url", "ctx"}
        }
        for error in errors[:MAX_ERRORS_SHOWN]
    ]
    if len(errors) > MAX_ERRORS_SHOWN:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown.append({"type": "too_many_errors", "loc": ["body"], "msg": f"and {more} more errors"})
    return error_response(jsonable_encoder(shown), "validation_error", 422)


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


async def http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's own refusals (an unknown route, a wrong method, a body
    over the limit while it streams, a body too complex to parse), with their code."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
        return validation_response([UNDECODABLE_BODY_ERROR])
    if exc.status_code == 422 and isinstance(exc.detail, list):
        return validation_response(exc.detail)
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    fallback = "internal_error" if exc.status_code >= 500 else "bad_request"
    code = _CODES_BY_STATUS.get(exc.status_code, fallback)
    return error_response(exc.detail, code, exc.status_code, exc.headers)


async def _database_error(_request: Request, exc: Exception) -> Response:
    if not is_connection_failure(exc):
        raise exc
    logger.warning("database unavailable: %s", type(exc).__name__)
    return error_response(SERVICE_UNAVAILABLE, "service_unavailable", 503)


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


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled %s", type(exc).__name__)
    return error_response("Internal server error", "internal_error", 500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise leaves as JSON with a `detail` and a `code`."""
    app.add_exception_handler(RelayError, relay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, http_error)
    # Registered per class so that an outage is answered (503) and not re-raised
    # to the server as a crash; anything else still ends as a logged 500.
    driver_errors = (asyncpg_errors.InterfaceError, asyncpg_errors.InternalClientError)
    for error_class in (*_UNAVAILABLE_ERRORS, *driver_errors, DBAPIError):
        app.add_exception_handler(error_class, _database_error)
    app.add_exception_handler(StatementError, statement_error)
    app.add_exception_handler(Exception, unexpected_error)
