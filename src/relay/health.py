"""GET /healthz: is this process able to reach its database?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from relay.db import Database
from relay.errors import SERVICE_UNAVAILABLE, error_body, is_connection_failure
from relay.openapi import error_answer

router = APIRouter(tags=["Health"])

_TIMEOUT_SECONDS = 2.0


@router.get(
    "/healthz",
    responses=error_answer("The database does not answer", "service_unavailable"),
    operation_id="health_check",
)
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers a query, 503 otherwise (no answer within
    _TIMEOUT_SECONDS included). No authentication. The query is read outside any
    transaction: on SQLite a transaction waits for the one write lock, and a server
    busy writing is not a server down."""
    database: Database = request.app.state.db
    try:
        async with asyncio.timeout(_TIMEOUT_SECONDS), database.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_connection_failure(exc):  # a timeout included
            raise
        return JSONResponse(
            {"status": "unavailable"} | error_body(SERVICE_UNAVAILABLE, "service_unavailable"),
            status_code=503,
        )
    return JSONResponse({"status": "ok"})
