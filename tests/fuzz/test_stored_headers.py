"""The headers Relay keeps, under the shared hostile corpus (tests/fuzz/corpus.py), as
far as a client can send it in a header: the User-Agent of an API request (kept with
the key's clients and the audit events of its requests) and of a sign-in (kept with
the session and the sign-in's audit event), and X-Forwarded-For from a trusted proxy
(the client address kept with all of them).

Whatever a header holds, the request is answered as without it (never a 5xx: the
right password still signs in, a dataset is still made), and the key activity flush
still lands: the key's last use is written and no row of it is dropped. The review's
instance: from a trusted proxy, `X-Forwarded-For: 10.0.0.1, xxxx...` (70 characters)
made `POST /api/v1/datasets` and `POST /login` answer 500, and that worker's key
activity flush then failed every second.
"""

from __future__ import annotations

import itertools
import logging

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate
from relay.config import Settings
from relay.dashboard.csrf import form_token
from relay.dashboard.web import PRESESSION_COOKIE
from relay.db import Database
from relay.tenants.models import User
from tests.accounts.helpers import make_owner
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD
from tests.factories import get_row
from tests.fuzz.common import encoded, from_new_address
from tests.fuzz.conftest import running_app
from tests.fuzz.corpus import HEADER_VALUES

# Shapes of a forwarded address beyond the corpus: the review's, ports, brackets,
# zones, out-of-range parts, empty entries.
FORWARDED = [
    b"10.0.0.1, " + b"x" * 70,
    b"198.51.100.7:8080",
    b"[2001:db8::1]:443",
    b"fe80::1%eth0",
    b"999.1.1.1",
    b"1.2.3.4:99999",
    b", ,",
    b"unknown",
]
PRESESSION = "stored-headers-presession"
_NAMES = itertools.count()


def _dropped() -> float:
    labels = {"writer": "key-activity"}
    return REGISTRY.get_sample_value("relay_background_rows_dropped_total", labels) or 0.0


async def _key_of(db: Database, owner: User) -> tuple[ApiKey, str]:
    async with db.sessionmaker.begin() as session:
        return await auth_service.create_api_key(
            session, tenant_id=owner.tenant_id, data=ApiKeyCreate(name="Fuzz"), actor=SYSTEM,
            created_by=None,
        )  # fmt: skip


async def _requests_with(
    app: FastAPI, db: Database, owner: User, client: httpx.AsyncClient, headers: dict[str, bytes]
) -> list[str]:
    """An API read and write with a fresh key, the flush of their activity, a failed and
    a successful sign-in, each with `headers`; what went wrong."""
    said = f"{headers!r}"[:80]
    wrong: list[str] = []
    api_key, key = await _key_of(db, owner)
    api = {"X-API-Key": key.encode()} | headers
    read = await client.get("/api/v1/datasets", headers=api)
    made = await client.post(
        "/api/v1/datasets", json={"name": f"Headers {next(_NAMES)}"}, headers=api
    )
    if (read.status_code, made.status_code) != (200, 201):
        wrong.append(f"{said}: API {read.status_code}, {made.status_code}")
    if await app.state.activity.flush() != 1:
        wrong.append(f"{said}: the key's last use was not written")
    used = await get_row(db, ApiKey, api_key.id)
    if used.last_used_at is None:
        wrong.append(f"{said}: no last_used_at")
    for password, expected in (("wrong password!", 401), (PASSWORD, 303)):
        client.cookies.clear()
        client.cookies.set(PRESESSION_COOKIE, PRESESSION)
        token = form_token(app.state.csrf_key, f"presession:{PRESESSION}")
        body = encoded([("csrf_token", token), ("email", owner.email), ("password", password)])
        form = {"Content-Type": b"application/x-www-form-urlencoded"}
        signed = await client.post("/login", content=body, headers=form | headers)
        if signed.status_code != expected:
            wrong.append(f"{said}: sign-in {signed.status_code}, not {expected}")
    return wrong


@pytest.mark.usefixtures("quick_hashing")
async def test_no_stored_header_fails_a_request_or_the_activity_flush(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(HEADER_VALUES) >= 30
    dropped_before = _dropped()
    failures: list[str] = []
    owner = await make_owner(db)
    async with running_app(settings) as app, asgi_client(app) as client:
        with caplog.at_level(logging.WARNING, logger="relay.batches"):
            for value in HEADER_VALUES:
                # The agent from an address of its own: each is a new client of its key.
                address = from_new_address()["X-Forwarded-For"].encode()
                agent = {"User-Agent": value, "X-Forwarded-For": address}
                failures += await _requests_with(app, db, owner, client, agent)
            for forwarded in [*HEADER_VALUES, *FORWARDED]:
                # The right-most entry is the one read (the proxy's own view).
                headers = {"X-Forwarded-For": forwarded}
                failures += await _requests_with(app, db, owner, client, headers)
    assert failures == [], "\n".join(failures)
    assert _dropped() == dropped_before, "the key activity flush dropped rows"
    assert [r.getMessage() for r in caplog.records if r.name == "relay.batches"] == []
