"""What the use of keys leaves behind, gathered in memory and written once a second
in one transaction (never a write per request):

- `last_used_at` of each key used (a busy key costs one UPDATE a second);
- requests per key per UTC day and status class (`api_key_usage`);
- the first use of a key from a client address it was never used from, an audit
  event (`api_key_addresses` remembers the addresses);
- a refused use of an expired key, an audit event at most once an hour per key
  and worker, so a forgotten script does not flood the log;
- a use refused for its address (the key's `allowed_ips`), an audit event at most
  once a minute per key and address, across workers and servers: each worker passes
  a pair on at most once a minute, and a conditional upsert of the pair's
  `api_key_address_refusals` row decides, in the flush's transaction, whether another
  worker audited it within the minute;
- who used the key, the scopes its requests needed and the networks it was used from
  (relay.auth.insight).

The gathered uses become rows written by relay.batches: a row the database refuses
(a key deleted meanwhile, a value it cannot keep) is dropped alone, and the rest
lands; rows the database was too unreachable to take wait for the next flush.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import USER_AGENT_LENGTH, Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth import insight
from relay.auth.models import ApiKey, ApiKeyAddress, ApiKeyAddressRefusal, ApiKeyUsage
from relay.auth.principal import Principal
from relay.background import BackgroundTask
from relay.batches import write_isolating
from relay.db import utcnow
from relay.upserts import insert_for

logger = logging.getLogger(__name__)

_api_keys = cast(Table, ApiKey.__table__)
# Never moves a timestamp backwards: another worker may have written a later use.
_RECORD_USE = (
    update(_api_keys)
    .where(
        _api_keys.c.id == bindparam("key_id"),
        or_(_api_keys.c.last_used_at.is_(None), _api_keys.c.last_used_at < bindparam("used_at")),
    )
    .values(last_used_at=bindparam("used_at"))
)
_SEEN_PAIRS = 100_000
_EXPIRED_EVENT_INTERVAL = 3600.0
_REFUSED_ADDRESS_INTERVAL = 60.0
_REFUSED_ADDRESS_QUIET = timedelta(seconds=_REFUSED_ADDRESS_INTERVAL)
_REFUSED_PAIRS = 10_000
WRITER = "key-activity"


@dataclass(frozen=True, slots=True)
class _LastUse:
    key_id: uuid.UUID
    used_at: datetime


@dataclass(frozen=True, slots=True)
class _Count:
    """Requests of a key on a day, of a status class."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    day: date
    status_class: str
    requests: int


@dataclass(frozen=True, slots=True)
class _Sighting:
    """A key seen from an address this worker had not seen it from, or a refused use
    of it: `refused` names the audit action then (expired, or from an address not
    allowed)."""

    principal: Principal
    address: str
    user_agent: str | None
    at: datetime
    refused: Action | None = None


_Row = _LastUse | _Count | _Sighting | insight.InsightRow
_CountKey = tuple[uuid.UUID, uuid.UUID, date, str]
# A client of a key in this flush: (key, address, user agent).
_ClientKey = tuple[uuid.UUID, str, str]
_PRUNE_EVERY = 3600.0
_CLIENTS_PER_FLUSH = 10_000


def _status_class(status: int) -> str:
    return f"{min(max(status // 100, 2), 5)}xx"


def _describe(row: _Row) -> str:
    """A row as a log line names it: kind and key, no value of anyone's."""
    if isinstance(row, _LastUse):
        return f"last use of key {row.key_id}"
    if isinstance(row, _Count):
        return f"usage of key {row.key_id} on {row.day} ({row.status_class})"
    if isinstance(row, insight.ScopeUse):
        return f"scope use of key {row.key_id}"
    if isinstance(row, insight.ClientUse):
        return f"clients of key {row.principal.key_id}"
    if isinstance(row, insight.NetworkUse):
        return f"network use of key {row.principal.key_id}"
    if isinstance(row, insight.Prune):
        return "pruning of old client rows"
    return f"{row.refused or 'new address'} of key {row.principal.key_id}"


class KeyActivity:
    """Records uses cheaply (dict updates, no I/O) and writes them every `interval` s."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._last_used: dict[uuid.UUID, datetime] = {}
        self._counts: Counter[_CountKey] = Counter()
        self._sightings: list[_Sighting] = []
        # Per client of a key: [requests, last, principal]; per (tenant, key, scope): last.
        self._clients: dict[_ClientKey, list[Any]] = {}
        self._scopes: dict[tuple[uuid.UUID, uuid.UUID, str], datetime] = {}
        self._pruned_at = -_PRUNE_EVERY
        # (key, address) pairs this worker has already passed on; bounded (LRU).
        self._seen: OrderedDict[tuple[uuid.UUID, str], None] = OrderedDict()
        self._expired_noted: dict[uuid.UUID, float] = {}
        # (key, address) refusals passed on, and when (bounded, oldest first).
        self._refusals_noted: OrderedDict[tuple[uuid.UUID, str], float] = OrderedDict()
        self._timer = BackgroundTask(self._run, name="relay-key-activity-flush")

    @property
    def pending_uses(self) -> int:
        """How many keys have a use not yet written."""
        return len(self._last_used)

    def record_use(
        self,
        principal: Principal,
        status: int,
        address: str,
        user_agent: str | None,
        *,
        sighting: bool = True,
        scope: str | None = None,
    ) -> None:
        """A request made with the key got `status`, having needed `scope` (its route's,
        once granted); without `sighting`, its address is not one the key was used
        from (it was refused for it)."""
        now = utcnow()
        self._last_used[principal.key_id] = now
        self._counts[
            (principal.tenant_id, principal.key_id, now.date(), _status_class(status))
        ] += 1
        if scope is not None:
            self._scopes[(principal.tenant_id, principal.key_id, scope)] = now
        if not sighting:
            return
        # As the column keeps it (200 characters; cleaned when written), and a bounded
        # number of clients a flush: a client sending a new user agent each time must
        # neither grow this nor hide among rows the database refuses.
        client = (principal.key_id, address, (user_agent or "")[:USER_AGENT_LENGTH])
        seen = self._clients.get(client)
        if seen is None:
            if len(self._clients) < _CLIENTS_PER_FLUSH:
                self._clients[client] = [1, now, principal]
        else:
            seen[0] += 1
            seen[1] = now
        pair = (principal.key_id, address)
        if pair in self._seen:
            self._seen.move_to_end(pair)
            return
        self._seen[pair] = None
        if len(self._seen) > _SEEN_PAIRS:
            self._seen.popitem(last=False)
        self._sightings.append(_Sighting(principal, address, user_agent, now))

    def record_expired_use(
        self, principal: Principal, address: str, user_agent: str | None
    ) -> None:
        """A request with the expired key was refused (noted once an hour per key)."""
        moment = time.monotonic()
        if moment - self._expired_noted.get(principal.key_id, -_EXPIRED_EVENT_INTERVAL) < (
            _EXPIRED_EVENT_INTERVAL
        ):
            return
        self._expired_noted[principal.key_id] = moment
        self._sightings.append(
            _Sighting(principal, address, user_agent, utcnow(), Action.API_KEY_EXPIRED_USE)
        )

    def record_refused_address(
        self, principal: Principal, address: str, user_agent: str | None
    ) -> None:
        """A request with the key was refused for its address (noted once a minute per
        key and address)."""
        moment, pair = time.monotonic(), (principal.key_id, address)
        noted = self._refusals_noted.get(pair)
        if noted is not None and moment - noted < _REFUSED_ADDRESS_INTERVAL:
            return
        self._refusals_noted[pair] = moment
        self._refusals_noted.move_to_end(pair)
        if len(self._refusals_noted) > _REFUSED_PAIRS:
            self._refusals_noted.popitem(last=False)
        self._sightings.append(
            _Sighting(principal, address, user_agent, utcnow(), Action.API_KEY_ADDRESS_REFUSED)
        )

    async def flush(self) -> int:
        """Write everything gathered; returns how many keys' last use went to the
        database (not those kept for the next flush, nor those dropped)."""
        rows = self._take()
        if not rows:
            return 0
        kept = await write_isolating(
            self._sessionmaker, rows, _write, writer=WRITER, describe=_describe
        )
        if kept:
            logger.warning(
                "key activity kept for the next flush: the database is unavailable",
                extra={"rows": len(kept)},
            )
            self._restore(kept)
        return sum(1 for row in rows if isinstance(row, _LastUse)) - sum(
            1 for row in kept if isinstance(row, _LastUse)
        )

    def _take(self) -> list[_Row]:
        """The gathered uses as rows, in the order rows are locked (key order): workers
        flushing the same keys at once then queue behind each other instead of
        deadlocking."""
        last_used, counts, sightings = self._last_used, self._counts, self._sightings
        clients, used_scopes = self._clients, self._scopes
        self._last_used, self._counts, self._sightings = {}, Counter(), []
        self._clients, self._scopes = {}, {}
        rows: list[_Row] = [_LastUse(key, last_used[key]) for key in sorted(last_used)]
        rows += [_Count(*key, requests=counts[key]) for key in sorted(counts)]
        uses = [
            insight.ClientUse(principal, address, agent, requests, last)
            for (_, address, agent), (requests, last, principal) in sorted(
                clients.items(), key=lambda item: (item[0][0], item[0][1], item[0][2])
            )
        ]
        rows += uses
        rows += [insight.ScopeUse(*key, at=at) for key, at in sorted(used_scopes.items())]
        rows += insight.networks_of(uses)
        if time.monotonic() - self._pruned_at > _PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            rows.append(insight.Prune(utcnow() - insight.CLIENTS_KEPT))
        return rows + sightings

    def _restore(self, rows: Sequence[_Row]) -> None:
        # Kept for the next flush, merged with what was gathered meanwhile (newer).
        for row in rows:
            if isinstance(row, _LastUse):
                self._last_used.setdefault(row.key_id, row.used_at)
            elif isinstance(row, _Count):
                key = (row.tenant_id, row.key_id, row.day, row.status_class)
                self._counts[key] += row.requests
            elif isinstance(row, insight.ClientUse):
                client = (row.principal.key_id, row.address, row.user_agent)
                if client in self._clients or len(self._clients) < _CLIENTS_PER_FLUSH:
                    seen = self._clients.setdefault(client, [0, row.last_seen, row.principal])
                    seen[0] += row.requests
            elif isinstance(row, insight.ScopeUse):
                self._scopes.setdefault((row.tenant_id, row.key_id, row.scope), row.at)
            # A network use is derived again from the client uses; a prune comes again.
        self._sightings = [row for row in rows if isinstance(row, _Sighting)] + self._sightings

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception as exc:
                logger.warning("key activity flush failed, will retry: %s", type(exc).__name__)

    def start(self) -> None:
        self._timer.start()

    async def stop(self) -> None:
        """Stop the timer and write what is left (on shutdown)."""
        await self._timer.stop()
        try:
            await self.flush()
        except Exception as exc:
            logger.warning("final key activity flush failed: %s", type(exc).__name__)


async def _write(session: AsyncSession, rows: Sequence[_Row]) -> None:
    """Write any of the rows (a whole flush or one row) in the caller's transaction:
    one statement per kind of row, whatever the number of keys (a worker's second
    may have used thousands: a statement per key made the flush the cost of a
    busy second)."""
    last_uses = [row for row in rows if isinstance(row, _LastUse)]
    if last_uses:
        params = [{"key_id": row.key_id, "used_at": row.used_at} for row in last_uses]
        await session.execute(_RECORD_USE, params)
    counts = [row for row in rows if isinstance(row, _Count)]
    if counts:
        # A _Count's fields are the columns' names.
        await session.execute(_count_upsert(session), [asdict(row) for row in counts])
    sightings = [row for row in rows if isinstance(row, _Sighting)]
    for row in sightings:
        if row.refused == Action.API_KEY_EXPIRED_USE:
            _audit(session, row, row.refused)
    refused_addresses = [row for row in sightings if row.refused == Action.API_KEY_ADDRESS_REFUSED]
    for row in await _not_audited_lately(session, refused_addresses):
        _audit(session, row, Action.API_KEY_ADDRESS_REFUSED)
    for row in await _first_from(session, [row for row in sightings if row.refused is None]):
        _audit(session, row, Action.API_KEY_NEW_ADDRESS)
    await insight.write(session, [row for row in rows if isinstance(row, insight.InsightRow)])
    await session.flush()


_usage = cast(Table, ApiKeyUsage.__table__)
_addresses = cast(Table, ApiKeyAddress.__table__)


def _count_upsert(session: AsyncSession) -> Any:
    statement = insert_for(session, _usage)
    return statement.on_conflict_do_update(
        index_elements=["key_id", "day", "status_class"],
        set_={"requests": _usage.c.requests + statement.excluded.requests},
    )


async def _first_from(session: AsyncSession, sightings: Sequence[_Sighting]) -> list[_Sighting]:
    """Remember the addresses; the sightings of a key from an address no process had
    seen it from before."""
    if not sightings:
        return []
    # In key order, as every row a flush writes (see _take).
    sightings = sorted(sightings, key=lambda row: (row.principal.key_id, row.address))
    statement = (
        insert_for(session, _addresses)
        .on_conflict_do_nothing()
        .returning(_addresses.c.key_id, _addresses.c.address)
    )
    params = [
        {
            "tenant_id": row.principal.tenant_id,
            "key_id": row.principal.key_id,
            "address": row.address,
            "first_seen": row.at,
        }
        for row in sightings
    ]
    first = {(key_id, address) for key_id, address in await session.execute(statement, params)}
    # A pair sighted twice (one kept from an earlier flush) is new once at most.
    fresh = []
    for row in sightings:
        pair = (row.principal.key_id, row.address)
        if pair in first:
            first.discard(pair)
            fresh.append(row)
    return fresh


_refusals = cast(Table, ApiKeyAddressRefusal.__table__)


async def _not_audited_lately(
    session: AsyncSession, sightings: Sequence[_Sighting]
) -> list[_Sighting]:
    """Of refusals for an address, those of a (key, address) pair no worker audited in
    the minute before: each such pair's row is stamped, in one statement, and the pairs
    stamped are the ones returned. A pair another worker stamped within the minute
    keeps its row: its transaction went first (PostgreSQL makes this one wait for it,
    then sees its stamp), so the pair is audited once."""
    if not sightings:
        return []
    # One row per pair (the earliest: one kept from an earlier flush comes first), in key
    # order, as every row a flush writes; one statement may not change a row twice.
    earliest: dict[tuple[uuid.UUID, str], _Sighting] = {}
    for row in sorted(sightings, key=lambda row: (row.principal.key_id, row.address, row.at)):
        earliest.setdefault((row.principal.key_id, row.address), row)
    statement = insert_for(session, _refusals)
    statement = statement.on_conflict_do_update(
        index_elements=["key_id", "address"],
        set_={
            "noted_at": statement.excluded.noted_at,
            "quiet_until": statement.excluded.quiet_until,
        },
        where=_refusals.c.quiet_until <= statement.excluded.noted_at,
    ).returning(_refusals.c.key_id, _refusals.c.address)
    params = [
        {
            "tenant_id": row.principal.tenant_id,
            "key_id": row.principal.key_id,
            "address": row.address,
            "noted_at": row.at,
            "quiet_until": row.at + _REFUSED_ADDRESS_QUIET,
        }
        for row in earliest.values()
    ]
    stamped = {(key_id, address) for key_id, address in await session.execute(statement, params)}
    return [row for pair, row in earliest.items() if pair in stamped]


def _audit(session: AsyncSession, sighting: _Sighting, action: Action) -> None:
    principal = sighting.principal
    actor = Actor.api_key(
        principal.key_prefix,
        scopes=principal.scopes,
        expires_at=principal.expires_at,
        client_address=sighting.address,
        user_agent=sighting.user_agent,
    )
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        action=action,
        actor=actor,
        target=audit.Target("api_key", principal.key_id, f"{principal.key_prefix}…"),
        at=sighting.at,
    )
