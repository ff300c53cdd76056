"""A bounded in-process cache of verified keys, keyed by key digest.

Positive entries (digest -> Principal) live in an LRU of `max_entries`; unknown
digests live in a separate, smaller LRU with a short time to live, so a flood of
made-up keys neither reaches the database once per request nor evicts good entries.
Negative caching is safe: a new key is 190 fresh random bits, so nobody can have
presented it before it existed.

Entries are also indexed by the key families of their lineage and by their limit pool
(Principal.cache_tags), so that a change to one family (its rate limit, a rotation, a
revocation) or to a pool drops at once every principal it bears on: its own keys' and
those of every key it made, or every key in the pool.

A worker's prewarm (prewarm.py) adds the keys used lately with `warm`: behind every
entry a request put, never in place of one, and never after a revocation its load
may have missed.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from relay.auth.principal import Principal


class KeyCache:
    """Digest -> Principal, with LRU eviction; plus short-lived "unknown" marks."""

    def __init__(self, max_entries: int, negative_entries: int, negative_ttl: float) -> None:
        self._max_entries = max_entries
        self._negative_entries = negative_entries
        self._negative_ttl = negative_ttl
        self._known: OrderedDict[str, Principal] = OrderedDict()
        # family id -> digests of the cached principals whose lineage includes it
        self._by_family: dict[uuid.UUID, set[str]] = {}
        # digest -> (when the mark lapses, why the key is refused: "invalid" or "revoked")
        self._unknown: OrderedDict[str, tuple[float, str]] = OrderedDict()
        # Bumped by every forget(): a load that started before it must not be cached.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._known)

    def get(self, key_hash: str) -> Principal | None:
        principal = self._known.get(key_hash)
        if principal is not None:
            self._known.move_to_end(key_hash)
        return principal

    def refusal(self, key_hash: str) -> str | None:
        """Why the key was refused a moment ago, or None when nothing is remembered."""
        entry = self._unknown.get(key_hash)
        if entry is None:
            return None
        expires, reason = entry
        if expires < time.monotonic():
            del self._unknown[key_hash]
            return None
        return reason

    def put(
        self,
        key_hash: str,
        principal: Principal | None,
        *,
        generation: int,
        refusal: str = "invalid",
    ) -> None:
        """Remember a database answer, unless a revocation happened since the load began."""
        if generation != self.generation:
            return
        if principal is None:
            self._unknown[key_hash] = (time.monotonic() + self._negative_ttl, refusal)
            self._unknown.move_to_end(key_hash)
            if len(self._unknown) > self._negative_entries:
                self._unknown.popitem(last=False)
            return
        self._drop(key_hash)
        self._keep(key_hash, principal)
        if len(self._known) > self._max_entries:
            self._drop(next(iter(self._known)))

    def warm(self, entries: Iterable[tuple[str, Principal]], *, generation: int) -> int | None:
        """Add principals a prewarm loaded (most recently used first) as the least
        recently used entries, while there is room; a key a request cached or found
        refused meanwhile keeps what the request found (it is as new or newer). How
        many were added; None, adding none, when a revocation happened since the load
        began (the caller loads again)."""
        if generation != self.generation:
            return None
        added = 0
        for key_hash, principal in entries:
            if len(self._known) >= self._max_entries:
                break
            if key_hash in self._known or key_hash in self._unknown:
                continue
            self._keep(key_hash, principal)
            # To the front: the next entry, used less recently, goes in front of it.
            self._known.move_to_end(key_hash, last=False)
            added += 1
        return added

    def forget(self, key_hash: str) -> None:
        """Drop a revoked key now; loads already in flight will not re-add it."""
        self.generation += 1
        self._drop(key_hash)

    def forget_family(self, family_id: uuid.UUID) -> None:
        """Drop every principal whose lineage includes the family (or that is in the
        pool of that id); loads already in flight will not re-add them."""
        self.generation += 1
        for key_hash in self._by_family.pop(family_id, set()):
            self._drop(key_hash)

    def clear(self) -> None:
        self.generation += 1
        self._known.clear()
        self._by_family.clear()
        self._unknown.clear()

    def _keep(self, key_hash: str, principal: Principal) -> None:
        self._known[key_hash] = principal
        for family_id in principal.cache_tags:
            self._by_family.setdefault(family_id, set()).add(key_hash)

    def _drop(self, key_hash: str) -> None:
        principal = self._known.pop(key_hash, None)
        if principal is None:
            return
        for family_id in principal.cache_tags:
            dependents = self._by_family.get(family_id)
            if dependents is not None:
                dependents.discard(key_hash)
                if not dependents:
                    del self._by_family[family_id]
