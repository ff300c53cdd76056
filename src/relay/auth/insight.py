"""What a key's use tells its owner, beyond counts (relay.auth.activity gathers the uses
and writes these rows with its own, once a second):

- who used the key in the last 24 hours: each address and user agent, with its last
  request and how many (`api_key_clients`, by UTC hour, kept two days): during a
  rotation's grace, who still uses the old key;
- the scopes its requests needed in the last 30 days (`api_key_scope_uses`), and the
  narrower set a key holding more could have;
- the first use of the key from a network (an IPv4 /24, an IPv6 /48) it was not used
  from in 30 days: an `api_key.new_network` audit event (so a webhook) and notice,
  at most once per key and network a day, across workers (`api_key_networks`).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from relay.actors import Actor, clean_user_agent
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import scopes as key_scopes
from relay.auth.models import ApiKey, ApiKeyClient, ApiKeyNetwork, ApiKeyScopeUse
from relay.auth.principal import Principal
from relay.db import tenant_select
from relay.notices import service as notices
from relay.upserts import insert_for

CLIENTS_WINDOW = timedelta(hours=24)
CLIENTS_SHOWN = 20
CLIENTS_KEPT = timedelta(hours=48)
SCOPES_WINDOW = timedelta(days=30)
NETWORK_QUIET = timedelta(days=30)


def network_of(address: str) -> str:
    """The network an address is counted in: its /24 (IPv4) or /48 (IPv6); the address
    itself when it is none (a test client's name)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class ClientUse:
    """Requests of a key from one address and user agent within one flush."""

    principal: Principal
    address: str
    user_agent: str
    requests: int
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class ScopeUse:
    tenant_id: uuid.UUID
    key_id: uuid.UUID
    scope: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NetworkUse:
    """A key used from a network within one flush (its latest such use)."""

    principal: Principal
    network: str
    address: str
    user_agent: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Prune:
    """Drop client rows older than `before` (written with a flush, once an hour)."""

    before: datetime


InsightRow = ClientUse | ScopeUse | NetworkUse | Prune


def networks_of(uses: Iterable[ClientUse]) -> list[NetworkUse]:
    """One NetworkUse per key and network, from the flush's client uses (the latest)."""
    latest: dict[tuple[uuid.UUID, str], ClientUse] = {}
    for use in uses:
        key = (use.principal.key_id, network_of(use.address))
        if key not in latest or latest[key].last_seen < use.last_seen:
            latest[key] = use
    return [
        NetworkUse(use.principal, network, use.address, use.user_agent, use.last_seen)
        for (_, network), use in sorted(latest.items(), key=lambda item: str(item[0]))
    ]


async def write(session: AsyncSession, rows: Sequence[InsightRow]) -> None:
    """Write the rows in the caller's transaction: one statement per kind, whatever
    the number of keys (the network uses' announcements aside, a row each, rare)."""
    clients = _merged_clients([row for row in rows if isinstance(row, ClientUse)])
    if clients:
        await session.execute(_client_upsert(session), clients)
    scope_uses = [row for row in rows if isinstance(row, ScopeUse)]
    if scope_uses:
        await session.execute(_scope_upsert(session), [_scope_params(row) for row in scope_uses])
    networks = [row for row in rows if isinstance(row, NetworkUse)]
    if networks:
        await _networks_used(session, networks)
    for row in rows:
        if isinstance(row, Prune):
            await session.execute(delete(ApiKeyClient).where(ApiKeyClient.hour < row.before))


_clients = cast(Table, ApiKeyClient.__table__)
_scope_uses = cast(Table, ApiKeyScopeUse.__table__)
_networks = cast(Table, ApiKeyNetwork.__table__)
# Pairs per look-up of networks' last uses (two parameters each: far under the
# databases' limits on parameters).
_LOOKUP = 1000


def _latest(session: AsyncSession, column: Any, excluded: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.max(column, excluded)
    return func.greatest(column, excluded)


def _client_upsert(session: AsyncSession) -> Any:
    statement = insert_for(session, _clients)
    return statement.on_conflict_do_update(
        index_elements=["key_id", "hour", "address", "user_agent"],
        set_={
            "requests": _clients.c.requests + statement.excluded.requests,
            "last_seen": _latest(session, _clients.c.last_seen, statement.excluded.last_seen),
        },
    )


def _merged_clients(uses: Sequence[ClientUse]) -> list[dict[str, Any]]:
    """A row per client row's key: two user agents the column keeps alike are one
    client (a statement may not update one row twice)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for use in uses:
        principal = use.principal
        row = {
            "tenant_id": principal.tenant_id,
            "key_id": principal.key_id,
            "hour": use.last_seen.replace(minute=0, second=0, microsecond=0),
            "address": use.address,
            "user_agent": clean_user_agent(use.user_agent) or "",
            "requests": use.requests,
            "last_seen": use.last_seen,
        }
        key = (row["key_id"], row["hour"], row["address"], row["user_agent"])
        known = merged.get(key)
        if known is None:
            merged[key] = row
        else:
            known["requests"] += use.requests
            known["last_seen"] = max(known["last_seen"], use.last_seen)
    return list(merged.values())


def _scope_upsert(session: AsyncSession) -> Any:
    statement = insert_for(session, _scope_uses)
    return statement.on_conflict_do_update(
        index_elements=["key_id", "scope"],
        set_={"last_used_at": statement.excluded.last_used_at},
        where=_scope_uses.c.last_used_at < statement.excluded.last_used_at,
    )


def _scope_params(row: ScopeUse) -> dict[str, Any]:
    return {
        "tenant_id": row.tenant_id,
        "key_id": row.key_id,
        "scope": row.scope,
        "last_used_at": row.at,
    }


async def _networks_used(session: AsyncSession, rows: Sequence[NetworkUse]) -> None:
    """Remember each network's last use; the first use after NETWORK_QUIET without one
    (or ever) is announced (_announce)."""
    before: dict[tuple[uuid.UUID, str], datetime] = {}
    for start in range(0, len(rows), _LOOKUP):
        pairs = [(row.principal.key_id, row.network) for row in rows[start : start + _LOOKUP]]
        query = select(_networks.c.key_id, _networks.c.network, _networks.c.last_seen).where(
            tuple_(_networks.c.key_id, _networks.c.network).in_(pairs)
        )
        for key_id, network, last_seen in await session.execute(query):
            before[(key_id, network)] = last_seen
    statement = insert_for(session, _networks)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["key_id", "network"],
            set_={"last_seen": statement.excluded.last_seen},
            where=_networks.c.last_seen < statement.excluded.last_seen,
        ),
        [
            {
                "tenant_id": row.principal.tenant_id,
                "key_id": row.principal.key_id,
                "network": row.network,
                "last_seen": row.at,
            }
            for row in rows
        ],
    )
    for row in rows:
        seen = before.get((row.principal.key_id, row.network))
        if seen is None or seen < row.at - NETWORK_QUIET:
            await _announce(session, row)


async def _announce(session: AsyncSession, row: NetworkUse) -> None:
    """Announce a key's use from a network new to it (or quiet for NETWORK_QUIET), once
    a day per key and network: the conditional update of `noticed_on` lets one worker
    through."""
    principal = row.principal
    where = (ApiKeyNetwork.key_id == principal.key_id, ApiKeyNetwork.network == row.network)
    today = row.at.date()
    noticed = await session.execute(
        update(ApiKeyNetwork)
        .where(*where, or_(ApiKeyNetwork.noticed_on.is_(None), ApiKeyNetwork.noticed_on < today))
        .values(noticed_on=today)
        .returning(ApiKeyNetwork.key_id)
    )
    if noticed.first() is None:
        return
    actor = Actor.api_key(
        principal.key_prefix, scopes=principal.scopes, expires_at=principal.expires_at,
        client_address=row.address, user_agent=row.user_agent or None,
    )  # fmt: skip
    # The client's own text, as the audit log and the notices keep it: 200 characters at
    # most, no control characters (it is shown in pages and quoted in mail).
    details: dict[str, object] = {
        "network": row.network,
        "user_agent": clean_user_agent(row.user_agent),
    }
    audit.record(
        session, tenant_id=principal.tenant_id, action=Action.API_KEY_NEW_NETWORK, actor=actor,
        target=audit.Target("api_key", principal.key_id, f"{principal.key_prefix}…"),
        details=details, at=row.at,
    )  # fmt: skip
    api_key = await session.get(ApiKey, principal.key_id)
    if api_key is not None:  # the notice of the same name, to owners and admins
        await notices.raise_notice(
            session, tenant_id=principal.tenant_id, kind=notices.NEW_NETWORK, api_key=api_key,
            subject_id=api_key.id, mark="network", period=f"{today} {row.network}",
            details=details,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Client:
    """Who used a key in the last 24 hours, as a key's page and its API read it."""

    address: str
    user_agent: str | None
    requests: int
    last_seen: datetime


async def recent_clients(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> list[Client]:
    """The key's clients of the last 24 hours, most requests first (at most 20)."""
    since = (now - CLIENTS_WINDOW).replace(minute=0, second=0, microsecond=0)
    requests = func.sum(ApiKeyClient.requests)
    query = (
        tenant_select(ApiKeyClient, tenant_id)
        .with_only_columns(
            ApiKeyClient.address,
            ApiKeyClient.user_agent,
            requests,
            func.max(ApiKeyClient.last_seen),
        )
        .where(
            ApiKeyClient.key_id == key_id,
            ApiKeyClient.hour >= since,
            ApiKeyClient.last_seen > now - CLIENTS_WINDOW,
        )
        .group_by(ApiKeyClient.address, ApiKeyClient.user_agent)
        .order_by(requests.desc(), ApiKeyClient.address, ApiKeyClient.user_agent)
        .limit(CLIENTS_SHOWN)
    )
    return [
        Client(address, user_agent or None, int(count), last_seen)
        for address, user_agent, count, last_seen in await session.execute(query)
    ]


async def scopes_used(
    session: AsyncSession, *, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> dict[str, datetime]:
    """The scopes (or "full access") the key's requests needed in the last 30 days,
    with when last."""
    query = (
        tenant_select(ApiKeyScopeUse, tenant_id)
        .with_only_columns(ApiKeyScopeUse.scope, ApiKeyScopeUse.last_used_at)
        .where(ApiKeyScopeUse.key_id == key_id, ApiKeyScopeUse.last_used_at > now - SCOPES_WINDOW)
        .order_by(ApiKeyScopeUse.scope)
    )
    return {scope: at for scope, at in await session.execute(query)}


def narrower_scopes(held: Iterable[str], used: Iterable[str]) -> list[str] | None:
    """The fewest scopes that grant what the key's requests needed, when that is less
    than the key holds; None when it needs all it holds, needed full access, or was not
    used (no use is no evidence: the unused-key policy is for those) or made keys."""
    needed = set(used)
    # A key that made or changed keys needed, beyond its routes' scopes, every scope of
    # the keys it made (a key never makes a broader one): narrowing it would break that.
    if not needed or key_scopes.FULL_ACCESS in needed or key_scopes.API_KEYS_WRITE in needed:
        return None
    fewest = sorted(
        scope for scope in needed
        if not any(scope != other and scope in key_scopes.effective([other]) for other in needed)
    )  # fmt: skip
    if not key_scopes.within(fewest, list(held)):  # never wider than the key is
        return None
    if key_scopes.effective(fewest) == key_scopes.effective(list(held)) and list(held):
        return None
    return fewest
