"""What the use of keys leaves behind, gathered in memory and written once a second
in one transaction (never a write per request):

- `last_used_at` of each key used (a busy key costs one UPDATE a second);
- requests per key per UTC day and status class (`api_key_usage`);
- the first use of a key from a client address it was never used from, an audit
  event (`api_key_addresses` remembers the addresses);
- a refused use of an expired key, an audit event at most once an hour per key
  and worker, so a forgotten script does not flood the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.actors import Actor
from relay.audit import service as audit
from relay.audit.actions import Action
from relay.auth.models import ApiKey, ApiKeyAddress, ApiKeyUsage
from relay.auth.principal import Principal
from relay.background import BackgroundTask
from relay.db import utcnow

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


@dataclass(frozen=True, slots=True)
class _Sighting:
    """A key seen from an address this worker had not seen it from."""

    principal: Principal
    address: str
    user_agent: str | None
    at: datetime


_Batch = tuple[
    dict[uuid.UUID, datetime],
    Counter[tuple[uuid.UUID, uuid.UUID, date, str]],
    list[_Sighting],
    list[_Sighting],
]


def _status_class(status: int) -> str:
    return f"{min(max(status // 100, 2), 5)}xx"


class KeyActivity:
    """Records uses cheaply (dict updates, no I/O) and writes them every `interval` s."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval: float) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval
        self._last_used: dict[uuid.UUID, datetime] = {}
        self._counts: Counter[tuple[uuid.UUID, uuid.UUID, date, str]] = Counter()
        self._sightings: list[_Sighting] = []
        self._expired: list[_Sighting] = []
        # (key, address) pairs this worker has already passed on; bounded (LRU).
        self._seen: OrderedDict[tuple[uuid.UUID, str], None] = OrderedDict()
        self._expired_noted: dict[uuid.UUID, float] = {}
        self._timer = BackgroundTask(self._run, name="relay-key-activity-flush")

    @property
    def pending_uses(self) -> int:
        """How many keys have a use not yet written."""
        return len(self._last_used)

    def record_use(
        self, principal: Principal, status: int, address: str, user_agent: str | None
    ) -> None:
        """A request made with the key got `status`."""
        now = utcnow()
        self._last_used[principal.key_id] = now
        self._counts[
            (principal.tenant_id, principal.key_id, now.date(), _status_class(status))
        ] += 1
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
        self._expired.append(_Sighting(principal, address, user_agent, utcnow()))

    async def flush(self) -> int:
        """Write everything gathered in one transaction; returns how many keys had uses."""
        if not (self._last_used or self._counts or self._sightings or self._expired):
            return 0
        batch = (self._last_used, self._counts, self._sightings, self._expired)
        self._last_used, self._counts, self._sightings, self._expired = {}, Counter(), [], []
        try:
            try:
                async with self._sessionmaker.begin() as session:
                    await self._write(session, *batch)
            except IntegrityError:
                # A key deleted meanwhile (its tenant was): its activity has nowhere to
                # go, the other keys' is written without it.
                batch = await self._without_deleted_keys(*batch)
                async with self._sessionmaker.begin() as session:
                    await self._write(session, *batch)
        except IntegrityError:
            logger.warning("key activity dropped: a key was deleted during the flush")
            return 0
        except BaseException:
            self._restore(*batch)
            raise
        return len(batch[0])

    async def _without_deleted_keys(
        self,
        last_used: dict[uuid.UUID, datetime],
        counts: Counter[tuple[uuid.UUID, uuid.UUID, date, str]],
        sightings: list[_Sighting],
        expired: list[_Sighting],
    ) -> _Batch:
        named = (
            set(last_used)
            | {key[1] for key in counts}
            | {sighting.principal.key_id for sighting in (*sightings, *expired)}
        )
        async with self._sessionmaker() as session:
            found = await session.scalars(select(_api_keys.c.id).where(_api_keys.c.id.in_(named)))
            existing = set(found)
        logger.warning("key activity of %d deleted keys dropped", len(named - existing))
        return (
            {key: at for key, at in last_used.items() if key in existing},
            Counter({key: n for key, n in counts.items() if key[1] in existing}),
            [sighting for sighting in sightings if sighting.principal.key_id in existing],
            [sighting for sighting in expired if sighting.principal.key_id in existing],
        )

    def _restore(
        self,
        last_used: dict[uuid.UUID, datetime],
        counts: Counter[tuple[uuid.UUID, uuid.UUID, date, str]],
        sightings: list[_Sighting],
        expired: list[_Sighting],
    ) -> None:
        # Kept for the next flush; a use recorded meanwhile is newer.
        self._last_used = last_used | self._last_used
        self._counts.update(counts)
        self._sightings = sightings + self._sightings
        self._expired = expired + self._expired

    async def _write(
        self,
        session: AsyncSession,
        last_used: dict[uuid.UUID, datetime],
        counts: Counter[tuple[uuid.UUID, uuid.UUID, date, str]],
        sightings: list[_Sighting],
        expired: list[_Sighting],
    ) -> None:
        # Rows are locked in key order: workers flushing the same keys at once then
        # queue behind each other instead of deadlocking.
        if last_used:
            params = [{"key_id": key, "used_at": last_used[key]} for key in sorted(last_used)]
            await session.execute(_RECORD_USE, params)
        for tenant_id, key_id, day, status_class in sorted(counts):
            requests = counts[(tenant_id, key_id, day, status_class)]
            await session.execute(
                _count_upsert(session, tenant_id, key_id, day, status_class, requests)
            )
        for sighting in sightings:
            if await _first_from(session, sighting):
                _audit(session, sighting, Action.API_KEY_NEW_ADDRESS)
        for sighting in expired:
            _audit(session, sighting, Action.API_KEY_EXPIRED_USE)

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


def _insert_for(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the session's database."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _count_upsert(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    day: date,
    status_class: str,
    requests: int,
) -> Any:
    statement = _insert_for(session, ApiKeyUsage).values(
        tenant_id=tenant_id, key_id=key_id, day=day, status_class=status_class, requests=requests
    )
    return statement.on_conflict_do_update(
        index_elements=["key_id", "day", "status_class"],
        set_={"requests": ApiKeyUsage.requests + statement.excluded.requests},
    )


async def _first_from(session: AsyncSession, sighting: _Sighting) -> bool:
    """Remember the address; True when no process had seen the key from it before."""
    principal = sighting.principal
    statement = (
        _insert_for(session, ApiKeyAddress)
        .values(
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            address=sighting.address[:64],
            first_seen=sighting.at,
        )
        .on_conflict_do_nothing()
        .returning(ApiKeyAddress.key_id)
    )
    return (await session.execute(statement)).first() is not None


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
