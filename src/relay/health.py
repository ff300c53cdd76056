"""GET /healthz: is this process able to reach its database?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from relay.db import Database
from relay.errors import SERVICE_UNAVAILABLE, is_connection_failure

router = APIRouter(tags=["Health"])

_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", responses={503: {"description": "The database does not answer"}})
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers a query, 503 otherwise. No authentication."""
    database: Database = request.app.state.db
    try:
        async with asyncio.timeout(_TIMEOUT_SECONDS), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_connection_failure(exc):
            raise
        return JSONResponse(
            {"status": "unavailable", "detail": SERVICE_UNAVAILABLE}, status_code=503
        )
    return JSONResponse({"status": "ok"})
