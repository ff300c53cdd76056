"""Small factories that write straight through the services, for test set-up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update

from relay.actors import SYSTEM
from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.auth.schemas import ApiKeyCreate, RateLimit
from relay.datasets import service as datasets_service
from relay.datasets.models import Dataset
from relay.datasets.schemas import DatasetCreate
from relay.db import Database
from relay.tenants.models import Tenant


@dataclass(frozen=True)
class TenantFixture:
    tenant_id: uuid.UUID
    key_id: uuid.UUID
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


async def make_tenant(db: Database, *, name: str = "Acme") -> TenantFixture:
    """A tenant with one API key (no users: most tests only need the key)."""
    async with db.sessionmaker.begin() as session:
        tenant = Tenant(name=name)
        session.add(tenant)
        await session.flush()
        api_key, full_key = await auth_service.create_api_key(
            session,
            tenant_id=tenant.id,
            data=ApiKeyCreate(name="Initial key"),
            actor=SYSTEM,
            created_by=None,
        )
        return TenantFixture(tenant_id=tenant.id, key_id=api_key.id, key=full_key)


# Audit actions the key-activity writer records in the background, any time after the
# request that caused them (a key's first use from an address, or from a network): a
# test comparing lists of events leaves them out.
RECORDED_IN_BACKGROUND = frozenset({"api_key.new_client_address", "api_key.new_network"})


async def make_api_key(
    db: Database,
    tenant: TenantFixture,
    *,
    name: str = "Another key",
    scopes: list[str] | None = None,
    rate_limit: tuple[int, int] | None = None,
    expires_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    """A key of the tenant, full access unless `scopes` says otherwise."""
    data = ApiKeyCreate(
        name=name,
        scopes=scopes or [],
        rate_limit=RateLimit(requests=rate_limit[0], per_seconds=rate_limit[1])
        if rate_limit
        else None,
        expires_at=expires_at,
    )
    async with db.sessionmaker.begin() as session:
        api_key, full_key = await auth_service.create_api_key(
            session, tenant_id=tenant.tenant_id, data=data, actor=SYSTEM, created_by=None
        )
        return api_key.id, full_key


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def set_key_expiry(db: Database, key_id: uuid.UUID, expires_at: datetime) -> None:
    """Move a key's expiry, e.g. into the past (the API only accepts future dates)."""
    async with db.sessionmaker.begin() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(expires_at=expires_at)
        )


async def make_dataset(db: Database, tenant: TenantFixture, **overrides: Any) -> Dataset:
    fields: dict[str, Any] = {"name": "Street scenes"} | overrides
    async with db.sessionmaker.begin() as session:
        return await datasets_service.create_dataset(
            session,
            reach=datasets_service.Reach(tenant.tenant_id),
            data=DatasetCreate(**fields),
            actor=SYSTEM,
        )


async def get_row(db: Database, model: type[Any], row_id: uuid.UUID) -> Any:
    async with db.sessionmaker() as session:
        return await session.get(model, row_id)
