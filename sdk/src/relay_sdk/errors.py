"""The exceptions the SDK raises, and the mapping from an HTTP answer to one of them.

Every one carries `status_code` (None when no answer came), `detail` (the API's
`detail`: a string, or FastAPI's list of validation errors) and `request_id` (the
answer's X-Request-ID, else the id the SDK sent), so a failure can be found in
the server's log. An API error also has the answer's `code` (`invalid_api_key`,
`api_key_expired`, `rate_limited`, ...): the exception's class is chosen by it, and
by the status only when the answer has no code the SDK knows (an older server, a
proxy's page). Nothing is decided by the English of `detail`.

The message shows the `detail` on one line with its control characters escaped
(relay_sdk.escapes), as Python's own messages show a value by its repr: a message
goes to terminals and logs, and the server is not trusted with them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from relay_sdk.escapes import escape_controls
from relay_sdk.rate_limits import RateLimitStatus

EXPIRED_CODE = "api_key_expired"
DISABLED_CODE = "api_key_disabled"


class RelayError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.request_id = request_id


class RelayConnectionError(RelayError):
    """No answer from Relay, after any retries; the transport error is chained."""


class APIStatusError(RelayError):
    """The API answered with an error status; subclasses name the common ones."""

    status_code: int

    def __init__(
        self, status_code: int, detail: Any, *, request_id: str | None, code: str | None = None
    ) -> None:
        super().__init__(
            f"{status_code}: {describe_detail(detail)}",
            status_code=status_code,
            detail=detail,
            request_id=request_id,
        )
        # The answer's machine-readable code; None when it had none.
        self.code = code


class AuthenticationError(APIStatusError):
    """401: the key is missing, invalid, revoked, expired (`expired`) or suspended
    (`disabled`)."""

    @property
    def expired(self) -> bool:
        return self.code == EXPIRED_CODE

    @property
    def disabled(self) -> bool:
        return self.code == DISABLED_CODE


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: no such resource in your tenant."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class ValidationError(APIStatusError):
    """422: the request was refused as invalid; `detail` lists what and where."""


class RateLimitError(APIStatusError):
    """429: too many requests; `retry_after` is the seconds to wait, when the server said,
    and `rate_limit` the key's RateLimit-* headers, when it has a limit of its own (None
    for the limit on failed authentications)."""

    def __init__(
        self,
        status_code: int,
        detail: Any,
        *,
        request_id: str | None,
        retry_after: float | None,
        rate_limit: RateLimitStatus | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(status_code, detail, request_id=request_id, code=code)
        self.retry_after = retry_after
        self.rate_limit = rate_limit


# The codes the API documents (relay.errors.ERROR_CODES) that have a class of their own.
_ERRORS_BY_CODE: dict[str, type[APIStatusError]] = {
    "invalid_api_key": AuthenticationError,
    "api_key_expired": AuthenticationError,
    "api_key_disabled": AuthenticationError,
    "insufficient_scope": PermissionDeniedError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "report_replayed": ConflictError,
    "validation_error": ValidationError,
    "rate_limited": RateLimitError,
    "quota_exhausted": RateLimitError,
    "too_many_auth_failures": RateLimitError,
    "too_many_attempts": RateLimitError,
}
# For an answer without a code the SDK knows.
_ERRORS_BY_STATUS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def describe_detail(detail: Any) -> str:
    """One line for a `detail`: FastAPI's validation list becomes "field: message; ...",
    and control characters are escaped."""
    if isinstance(detail, list):
        text = "; ".join(_describe_validation_error(error) for error in detail)
    else:
        text = str(detail)
    return escape_controls(text)


def _describe_validation_error(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    # "body" and "query" say where, not what: the field name is enough.
    location = [str(part) for part in error.get("loc", []) if part not in ("body", "query")]
    message = str(error.get("msg", error))
    return f"{'.'.join(location)}: {message}" if location else message


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: UTC, but parsed without a zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def answer_code(response: httpx.Response) -> str | None:
    """The `code` of an error answer's JSON body; None when it has none."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def error_from_response(response: httpx.Response, *, request_id: str) -> APIStatusError:
    """The exception for an error answer: its class by the answer's `code`, else by its
    status."""
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    code = answer_code(response)
    answered_id = response.headers.get("X-Request-ID", request_id)
    error_class = _ERRORS_BY_CODE.get(code or "") or _ERRORS_BY_STATUS.get(
        response.status_code, APIStatusError
    )
    if error_class is RateLimitError:
        return RateLimitError(
            response.status_code,
            detail,
            request_id=answered_id,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            rate_limit=RateLimitStatus.from_headers(response.headers),
            code=code,
        )
    return error_class(response.status_code, detail, request_id=answered_id, code=code)
