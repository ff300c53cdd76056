"""API keys through the SDK against a real server, with both clients."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from relay_sdk import (
    ApiKey,
    AuthenticationError,
    CreatedApiKey,
    PermissionDeniedError,
    ValidationError,
)
from tests.sdk.conftest import Connect

pytestmark = pytest.mark.backend_independent


async def test_key_lifecycle_create_list_use_revoke(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    expiry = datetime(2031, 1, 1, tzinfo=UTC)
    created = await relay.api_keys.create("CI/CD Pipeline", expires_at=expiry)
    assert isinstance(created, CreatedApiKey)
    assert created.key.startswith(created.key_prefix)
    assert len(created.key_prefix) == 12
    assert (created.expires_at, created.last_used_at, created.scopes) == (expiry, None, ())
    assert created.created_at.tzinfo is not None

    listed = await relay.api_keys.list()
    assert [key.name for key in listed] == ["CI/CD Pipeline", "Initial key"]
    assert all(type(key) is ApiKey for key in listed)  # never the key itself

    ci = connect(created.key)
    assert (await ci.datasets.list()).total == 0
    await relay.api_keys.revoke(created.id)
    with pytest.raises(AuthenticationError) as refused:
        await ci.datasets.list()
    assert (refused.value.status_code, refused.value.detail) == (401, "Invalid or missing API key")
    assert not refused.value.expired


async def test_created_key_stays_out_of_repr(connect: Connect, api_key: str) -> None:
    created = await connect(api_key).api_keys.create("Logged by accident")
    assert created.key not in repr(created)
    assert created.key_prefix in repr(created)


async def test_an_expired_key_is_reported_as_expired(connect: Connect, api_key: str) -> None:
    relay = connect(api_key)
    expires = datetime.now(UTC) + timedelta(seconds=1)
    short_lived = connect((await relay.api_keys.create("Short", expires_at=expires)).key)
    # Waits on the wall clock, which is what expiry is about (10 ms past it: a timer
    # may wake a little early).
    await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 0.01)
    with pytest.raises(AuthenticationError) as refused:
        await short_lived.datasets.list()
    assert refused.value.expired
    assert refused.value.detail == "API key expired"


async def test_a_naive_expiry_is_refused_before_sending(connect: Connect, api_key: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await connect(api_key).api_keys.create("Local time", expires_at=datetime(2031, 1, 1))


async def test_scopes_come_back_and_bound_what_the_key_may_do(
    connect: Connect, api_key: str
) -> None:
    relay = connect(api_key)
    created = await relay.api_keys.create("Reader", scopes=["datasets:read"])
    assert created.scopes == ("datasets:read",)
    reader = connect(created.key)
    assert (await reader.datasets.list()).total == 0
    with pytest.raises(PermissionDeniedError) as refused:
        await reader.datasets.create("Street scenes")
    assert (refused.value.status_code, refused.value.detail) == (
        403,
        "Insufficient permissions: requires datasets:write",
    )


async def test_a_key_cannot_make_a_key_broader_than_itself(connect: Connect, api_key: str) -> None:
    keys_only = await connect(api_key).api_keys.create("Key admin", scopes=["api_keys:write"])
    key_admin = connect(keys_only.key)
    with pytest.raises(
        PermissionDeniedError, match="Insufficient permissions: requires audit:read"
    ):
        await key_admin.api_keys.create("Everything")  # no scopes: full access
    narrower = await key_admin.api_keys.create("Key reader", scopes=["api_keys:read"])
    assert narrower.scopes == ("api_keys:read",)


async def test_an_unknown_scope_is_refused_naming_the_valid_ones(
    connect: Connect, api_key: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        await connect(api_key).api_keys.create("Deleter", scopes=["datasets:delete"])
    assert "datasets:read" in str(refused.value)
    assert "audit:read" in str(refused.value)
