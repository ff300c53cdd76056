"""The client address: from a trusted proxy's X-Forwarded-For only when the entry is
an IP address, always one Relay can keep; the review's 70-character entry answered
500 and then poisoned the worker's key activity flush."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from relay.app import create_app
from relay.audit.actions import Action
from relay.audit.models import AuditEvent
from relay.auth.activity import KeyActivity
from relay.auth.models import ApiKey, ApiKeyUsage
from relay.clients import parse_address
from relay.config import Settings
from relay.db import Database
from tests.conftest import asgi_client
from tests.dashboard.helpers import PASSWORD, post_form, sign_up
from tests.factories import TenantFixture

GARBAGE = "x" * 70


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("192.0.2.7", "192.0.2.7"),
        (" 192.0.2.7 ", "192.0.2.7"),
        ("192.0.2.7:8080", "192.0.2.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:192.0.2.7", "::ffff:c000:207"),
        ("fe80::1%eth0", None),
        ("unknown", None),
        ("example.com", None),
        (GARBAGE, None),
        ("1" * 500, None),
        ("192.0.2.7\x00", None),
    ],
)
def test_only_an_ip_address_is_read_from_a_forwarded_entry(entry: str, address: str | None) -> None:
    assert parse_address(entry) == address


@pytest.fixture
async def behind_proxy(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.0/8"}))
    async with app.router.lifespan_context(app):
        yield app


async def test_an_entry_that_is_no_address_falls_back_to_the_proxy_and_nothing_is_lost(
    behind_proxy: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    forwarded = {"X-Forwarded-For": f"10.0.0.1, {GARBAGE}"}
    async with asgi_client(behind_proxy) as proxy:
        created = await proxy.post(
            "/api/v1/datasets", json={"name": "Via proxy"}, headers=tenant_a.headers | forwarded
        )
        assert created.status_code == 201
        await sign_up(proxy, "proxied@example.com")
        proxy.cookies.clear()
        signed_in = await post_form(
            proxy, "/login", "/login",
            {"email": "proxied@example.com", "password": PASSWORD},
        )  # fmt: skip
        assert signed_in.status_code == 303
        listed = await proxy.get("/api/v1/datasets", headers=tenant_a.headers | forwarded)
        assert listed.status_code == 200
    activity: KeyActivity = behind_proxy.state.activity
    assert await activity.flush() == 1
    async with db.sessionmaker() as session:
        key = await session.get(ApiKey, tenant_a.key_id)
        counted = await session.scalar(
            select(ApiKeyUsage.requests).where(ApiKeyUsage.key_id == tenant_a.key_id)
        )
        addresses = set(
            await session.scalars(
                select(AuditEvent.client_address).where(
                    AuditEvent.tenant_id == tenant_a.tenant_id,
                    AuditEvent.action.in_([Action.DATASET_CREATED, Action.API_KEY_NEW_ADDRESS]),
                )
            )
        )
    assert key is not None
    assert key.last_used_at is not None
    assert counted == 2
    assert addresses == {"127.0.0.1"}  # the proxy: the entry before it is not believed
