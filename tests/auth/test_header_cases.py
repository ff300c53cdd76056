"""Hostile X-API-Key headers, sent as raw bytes (an HTTP client would refuse some of
them): every one is a 401 with the guide's body, and none with a failing checksum
reaches the database."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI

from relay.actors import SYSTEM
from relay.auth import keys
from relay.auth import service as auth_service
from relay.auth.verifier import KeyVerifier
from relay.db import Database
from tests.auth.lookups import statements_sent
from tests.auth.workers import ready
from tests.factories import make_tenant

INVALID = {"detail": "Invalid or missing API key", "code": "invalid_api_key"}


async def raw_get(
    app: FastAPI, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, object]]:
    """Call the ASGI app directly with exactly these header bytes."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/datasets",
        "raw_path": b"/api/v1/datasets",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = int(sent[0]["status"])  # type: ignore[call-overload]
    body = b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    return status, json.loads(body)


VALID_SHAPE = keys.generate_key()


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"   ",
        b"\t",
        b"x" * 65536,
        b"rl_live_" + b"a" * 65536,
        VALID_SHAPE.encode()[:20] + b"\x00" + VALID_SHAPE.encode()[21:],
        VALID_SHAPE.encode()[:20] + b"\x07\x1b" + VALID_SHAPE.encode()[22:],
        VALID_SHAPE.encode() + b"\r",
        "rl_live_ключключключключключключключключкл".encode(),
        b"rl_live_" + "é".encode("latin-1") * 38,
        b"\xff\xfe\xfd",
        VALID_SHAPE.lower().encode(),
    ],
    ids=[
        "empty", "spaces", "tab", "64KB", "64KB-with-prefix", "NUL", "control-characters",
        "trailing-CR", "cyrillic", "latin-1", "invalid-utf8", "case-changed",
    ],
)  # fmt: skip
async def test_hostile_header_is_401_without_touching_the_database(
    app: FastAPI, db: Database, value: bytes
) -> None:
    await ready(app)
    with statements_sent(db) as statements:
        status, body = await raw_get(app, [(b"x-api-key", value)])
    assert (status, body) == (401, INVALID)
    assert statements == []


async def test_revoked_key_with_a_valid_checksum_is_401(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db)
    status, _ = await raw_get(app, [(b"x-api-key", tenant.key.encode())])
    assert status == 200
    verifier: KeyVerifier = app.state.verifier
    async with db.sessionmaker() as session:
        api_key = await auth_service.revoke_api_key(
            session, tenant_id=tenant.tenant_id, key_id=tenant.key_id, actor=SYSTEM
        )
        await verifier.commit_change(session, api_key)
    assert await raw_get(app, [(b"x-api-key", tenant.key.encode())]) == (401, INVALID)
