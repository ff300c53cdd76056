"""A key's rate limit, quota and limit pool as the dashboard's key forms offer them (the
create dialog, and the form on a key's own page), and as the keys table and a key's
page say them, with what is left of its quota. Each is its family's (the key and those
it was rolled from or into): setting one on a key sets it on all of them. The rules
are the API's (relay.auth.schemas, auth/service.py): this module only words them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from relay.auth import service as auth_service
from relay.auth.models import ApiKey
from relay.dashboard import key_restrictions, limit_fields
from relay.dashboard.form_errors import FormField
from relay.dashboard.web import field
from relay.errors import InvalidInput, NotFoundError
from relay.limit_pools import service as pools_service

LIMITS = limit_fields.LimitFields("key")
POOL = "key-pool"
# Element ids of the fields, in page order; the same in the dialog and on a key's page.
ORDER = (*LIMITS.order, POOL)
CHOOSE_POOL = "Choose a limit pool from the list, or None"
UNKNOWN_POOL = (
    "The limit pool chosen no longer exists (deleted since the page was shown): choose again"
)
FIELDS = LIMITS.fields | {
    "pool_id": FormField(POOL, "Limit pool", rewrites=(("UUID", CHOOSE_POOL),)),
}
# A form lists at most this many pools (the newest), and the key's own.
LISTED_POOLS = 100


@dataclass(frozen=True)
class PoolChoice:
    id: str
    name: str


@dataclass(frozen=True)
class PoolChoices:
    """The tenant's pools a form lists by name: its newest LISTED_POOLS and any already
    chosen; `more`: it has others, which the API puts keys in."""

    listed: list[PoolChoice]
    more: bool
    newest: ClassVar[int] = LISTED_POOLS

    def name_of(self, pool_id: uuid.UUID | None) -> str | None:
        wanted = str(pool_id)
        return next((choice.name for choice in self.listed if choice.id == wanted), None)


def _pool_ids(values: Iterable[uuid.UUID | str | None]) -> set[uuid.UUID]:
    """The ids among `values`; text that is not one, and None, are left out."""
    found = set()
    for value in values:
        try:
            found.add(value if isinstance(value, uuid.UUID) else uuid.UUID(value or ""))
        except ValueError:
            continue
    return found


async def pool_choices(
    session: AsyncSession, *, tenant_id: uuid.UUID, chosen: Iterable[uuid.UUID | str | None]
) -> PoolChoices:
    """What a form lists: the tenant's newest pools, and those of `chosen` (a key's own,
    or chosen before an error) that still exist, wherever they are in the list."""
    pools = await pools_service.list_pools(
        session, tenant_id=tenant_id, limit=LISTED_POOLS + 1, start_after=None
    )
    more = len(pools) > LISTED_POOLS
    pools = pools[:LISTED_POOLS]
    for pool_id in _pool_ids(chosen) - {pool.id for pool in pools}:
        try:
            pools.append(
                await pools_service.get_pool(session, tenant_id=tenant_id, pool_id=pool_id)
            )
        except NotFoundError:  # deleted since, or not the tenant's: not listed
            continue
    listed = sorted(
        (PoolChoice(str(pool.id), pool.name) for pool in pools),
        key=lambda choice: (choice.name.casefold(), choice.id),
    )
    return PoolChoices(listed, more=more)


def values_of_form(form: FormData) -> dict[str, str]:
    """What the fields held, to read or show again after an error."""
    return limit_fields.values_of_form(form) | {"pool_id": field(form, "pool_id").strip()}


def values_of_key(api_key: ApiKey) -> dict[str, str]:
    """The fields as the key's own limits fill them."""
    return limit_fields.values_of(
        api_key.rate_limit, api_key.quota_requests, api_key.quota_period
    ) | {"pool_id": str(api_key.pool_id) if api_key.pool_id else ""}


def _said(values: dict[str, str], name: str) -> tuple[str, ...]:
    """What the fields of one limit say (a quota's period means nothing without it)."""
    if name == "rate_limit":
        return values["rate_limit_requests"], values["rate_limit_seconds"]
    if name == "quota":
        requests = values["quota_requests"]
        return requests, values["quota_period"] if requests else ""
    return (values["pool_id"],)


def read(
    values: dict[str, str], *, current: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields (as values_of_form reads them) as ApiKeyCreate and ApiKeyUpdate take
    them, `rate_limit`, `quota` and `pool_id`, None meaning none; with `current` (the
    key's, as values_of_key gives them) only those changed, so that the audit log says
    what was. And what the form itself finds wrong, {element id: message}; numbers
    and ids are checked by the schema (FIELDS) and the service (refusal_of)."""
    limits, errors = LIMITS.read(values)
    sent = limits | {"pool_id": values["pool_id"] or None}
    if current is None:
        return sent, errors
    return {
        name: value for name, value in sent.items() if _said(values, name) != _said(current, name)
    }, errors


def refusal_of(exc: InvalidInput) -> dict[str, str]:
    """The service's refusal of the fields, at the field: a pool that is not the
    tenant's (deleted since the page was shown)."""
    if exc.loc[-1] != "pool_id":
        raise exc
    return {POOL: UNKNOWN_POOL}


def quota_left(
    api_key: ApiKey, status: auth_service.QuotaStatus | None, *, compact: bool = False
) -> str:
    """What is left of the key's quota ("987 of 1,000 left today, refills ..."); ""
    for none."""
    if status is None or api_key.quota_requests is None or api_key.quota_period is None:
        return ""
    return limit_fields.quota_said(
        api_key.quota_requests,
        api_key.quota_period,
        status.remaining,
        status.resets_at,
        compact=compact,
    )


@dataclass(frozen=True)
class LimitsSaid:
    """The keys table's words for each key's limits: "1 dataset · 600 per 60 s · 987 of
    1,000 left today · pool “Acme”"; "" for none."""

    quotas: dict[uuid.UUID, auth_service.QuotaStatus]
    pools: PoolChoices

    def __call__(self, api_key: ApiKey) -> str:
        pool = self.pools.name_of(api_key.pool_id) if api_key.pool_id else None
        parts = (
            key_restrictions.describe(api_key),
            limit_fields.rate_limit_said(api_key.rate_limit, compact=True),
            quota_left(api_key, self.quotas.get(api_key.id), compact=True),
            f"pool “{pool}”" if pool else "",
        )
        return " · ".join(part for part in parts if part)


async def limits_said(
    session: AsyncSession, api_keys: Iterable[ApiKey], pools: PoolChoices
) -> LimitsSaid:
    """The words for `api_keys`' limits (one query for their quotas); `pools` must list
    their pools."""
    return LimitsSaid(await auth_service.quota_status(session, list(api_keys)), pools)
