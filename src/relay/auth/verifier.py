"""Turns the X-API-Key header into a Principal, or refuses it with the guide's messages.

Order of work per request: shape and checksum (no I/O), then the in-process cache,
then the database (principals.py builds the principal). Expiry is checked on every
request, cached or not.

Misses of one key at once share one load (single flight): after a restart, or once a
change drops a busy key, the requests that arrive while it loads wait for that load
instead of each sending its own. A request joins a load only if no revocation reached
this process since the load began (the cache's generation): otherwise it loads anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from relay import metrics
from relay.auth import keys, principals
from relay.auth.cache import KeyCache
from relay.auth.models import ApiKey
from relay.auth.principal import Principal
from relay.db import Database, utcnow
from relay.errors import AuthenticationError

INVALID_KEY = "Invalid or missing API key"
EXPIRED_KEY = "API key expired"
DISABLED_KEY = "API key disabled"
# Names the scheme, so a client that gets a 401 knows which header to send.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'APIKey realm="relay", header="X-API-Key"'}


def invalid_key(reason: str = "invalid") -> AuthenticationError:
    """The guide's one answer for a missing, invalid or revoked key."""
    return AuthenticationError(INVALID_KEY, reason=reason, headers=WWW_AUTHENTICATE)


class ExpiredKey(AuthenticationError):
    """401 "API key expired"; `principal` says which key, for the audit log."""

    code = "api_key_expired"

    def __init__(self, principal: Principal) -> None:
        super().__init__(EXPIRED_KEY, reason="expired", headers=WWW_AUTHENTICATE)
        self.principal = principal


class DisabledKey(AuthenticationError):
    """401 "API key disabled": suspended until someone resumes it."""

    code = "api_key_disabled"

    def __init__(self) -> None:
        super().__init__(DISABLED_KEY, reason="disabled", headers=WWW_AUTHENTICATE)


@dataclass(frozen=True, slots=True)
class _Load:
    """A load of one key in flight, and the cache generation it began in."""

    generation: int
    task: asyncio.Task[tuple[Principal | None, str]]


class KeyVerifier:
    """Checks presented keys and owns the cache of verified ones.

    `cache_trusted` is False while this process could miss a revocation made
    elsewhere (its notification channel is down): every key then goes to the
    database, and the cache is emptied before it is trusted again. `trusted` is the
    same as an event, for what waits for it (the prewarm).
    """

    def __init__(self, database: Database, cache: KeyCache, *, trusted: bool) -> None:
        self._database = database
        self.cache = cache
        self.cache_trusted = trusted
        self.trusted = asyncio.Event()
        if trusted:
            self.trusted.set()
        self._loads: dict[str, _Load] = {}

    async def verify(self, presented: str | None) -> Principal:
        """The key's principal; AuthenticationError when it is missing, unknown,
        revoked, expired or disabled."""
        if not presented:
            raise invalid_key("missing")
        # A bad checksum is refused here, before any hashing or database work.
        if not keys.is_well_formed(presented):
            raise invalid_key()
        key_hash = keys.hash_key(presented)
        # A cache hit stays synchronous: no await on the path most requests take.
        principal = self.cache.get(key_hash) if self.cache_trusted else None
        if principal is None:
            metrics.KEY_CACHE.labels("miss").inc()
            principal = await self._on_cache_miss(key_hash)
        else:
            metrics.KEY_CACHE.labels("hit").inc()
        if principal.is_expired(utcnow()):
            raise ExpiredKey(principal)
        if principal.disabled:
            raise DisabledKey
        return principal

    async def _on_cache_miss(self, key_hash: str) -> Principal:
        """The principal from the database; AuthenticationError when unknown or revoked."""
        refusal = self.cache.refusal(key_hash) if self.cache_trusted else None
        if refusal is not None:
            raise invalid_key(refusal)
        load = self._loads.get(key_hash)
        if load is None or load.generation != self.cache.generation:
            load = self._start_load(key_hash)
        # Shielded: a request that goes away (its client did) leaves the load to the
        # others waiting for it.
        principal, reason = await asyncio.shield(load.task)
        if principal is None:
            raise invalid_key(reason)
        return principal

    def _start_load(self, key_hash: str) -> _Load:
        generation = self.cache.generation
        load = _Load(generation, asyncio.create_task(self._load(key_hash, generation)))
        self._loads[key_hash] = load
        load.task.add_done_callback(lambda _: self._landed(key_hash, load))
        return load

    def _landed(self, key_hash: str, load: _Load) -> None:
        if self._loads.get(key_hash) is load:
            del self._loads[key_hash]
        # Retrieved here, so a failure no request waited for is not logged as unseen.
        with contextlib.suppress(asyncio.CancelledError):
            load.task.exception()

    async def _load(self, key_hash: str, generation: int) -> tuple[Principal | None, str]:
        """The key's principal from the database, kept in the cache unless a revocation
        came since `generation` (principals.load_key)."""
        async with self._database.read_connection() as reader:
            principal, refusal = await principals.load_key(reader, key_hash)
        if self.cache_trusted:
            self.cache.put(key_hash, principal, generation=generation, refusal=refusal)
        return principal, refusal

    def mark_untrusted(self) -> None:
        self.cache_trusted = False
        self.trusted.clear()

    def mark_trusted(self) -> None:
        """The channel is back: drop everything cached (it may have missed revocations)."""
        self.cache.clear()
        self.cache_trusted = True
        self.trusted.set()

    async def commit_change(self, session: AsyncSession, api_key: ApiKey) -> None:
        """Commit a change to a key (revoked, rotated, limited) and drop its family, and
        every key that family made, here before the caller answers: the next request in
        this process sees the change. Other processes hear of it through the database's
        notification (revocations.py)."""
        await self.commit_tagged(session, api_key.family_id)

    async def commit_tagged(self, session: AsyncSession, tag: uuid.UUID) -> None:
        """Commit a change to what is cached under `tag` (a family, a limit pool) and
        drop it here, before the caller answers."""
        await session.commit()
        self.cache.forget_family(tag)
