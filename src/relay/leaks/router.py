"""POST /api/v1/leaked-keys: reports of exposed keys, signed by a trusted reporter
(GitHub's secret-scanning partner format). No API key: the signature is the
credential. Everything that can refuse a report without the database does so first:
the per-address limit, the signature, a replay."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import ValidationError

from relay.auth.scopes import public
from relay.auth.verifier import KeyVerifier
from relay.clients import client_address
from relay.db import Database
from relay.errors import RelayError, validation_response
from relay.json_bodies import parse_bounded_json
from relay.leaks import service
from relay.leaks.replays import SeenReports
from relay.leaks.schemas import (
    LEAK_REPORT_SCHEMA,
    LeakReportBody,
    ReportReceived,
)
from relay.leaks.signatures import KEY_ID_HEADER, SIGNATURE_HEADER, signature_is_valid
from relay.limits.policy import Limits
from relay.openapi import error_answer

router = APIRouter(prefix="/api/v1/leaked-keys", tags=["Leaked keys"])

BAD_SIGNATURE = "Invalid or missing signature"
_ANSWERS: dict[int | str, dict[str, Any]] = (
    error_answer("No valid signature from a known reporter key", "invalid_signature")
    | error_answer("This report was already received", "report_replayed")
    | error_answer("Request body over the size limit", "request_too_large")
    | error_answer("The body is not a list of reported tokens", "validation_error")
    | error_answer("Too many reports from this address: see Retry-After", "too_many_attempts")
    | error_answer("Service temporarily unavailable", "service_unavailable")
)


class InvalidSignature(RelayError):
    status_code = 401
    code = "invalid_signature"


class ReplayedReport(RelayError):
    status_code = 409
    code = "report_replayed"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReportReceived,
    responses=_ANSWERS,
    dependencies=[public("signed leak reports")],
    operation_id="leaked_keys_report",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LEAK_REPORT_SCHEMA}},
        },
        "security": [],
    },
)
async def report_leaked_keys(request: Request) -> Any:
    """Revoke every live key among the reported tokens, at once, on every worker. The
    body is signed (ECDSA P-256, SHA-256, base64 DER) in `X-Relay-Signature` by the
    reporter key named in `X-Relay-Reporter-Key`. The answer is the same whatever the
    tokens were."""
    settings = request.app.state.settings
    limits: Limits = request.app.state.limits
    await limits.dashboard_attempt("leak-report", client_address(request, settings.trusted_proxies))
    body = await request.body()
    reporter = request.headers.get(KEY_ID_HEADER)
    if not signature_is_valid(
        settings.leak_reporter_keys, reporter, request.headers.get(SIGNATURE_HEADER), body
    ):
        raise InvalidSignature(BAD_SIGNATURE)
    try:
        items = LeakReportBody.validate_python(parse_bounded_json(body))
    except ValueError as exc:  # not JSON, or not a list of at most so many entries
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        return validation_response(
            [dict(error) for error in errors]
            or [{"type": "json_invalid", "loc": ["body"], "msg": "The body is not JSON"}]
        )
    seen: SeenReports = request.app.state.seen_reports
    tokens = service.read_entries(items)
    digest = hashlib.sha256(body).hexdigest()
    if not await seen.first_time(digest):
        raise ReplayedReport("This report was already received")
    database: Database = request.app.state.db
    try:
        async with database.sessionmaker() as session:
            revoked = await service.revoke_leaked(session, tokens, reporter=reporter or "")
            await session.commit()
    except BaseException:
        # Not taken (the database failed, 503): the reporter's retry must not be
        # refused as a replay while the leaked keys still answer.
        await seen.forget(digest)
        raise
    verifier: KeyVerifier = request.app.state.verifier
    for api_key in revoked:
        verifier.cache.forget(api_key.key_hash)
    return ReportReceived(received=len(items))
