"""A bounded in-process cache of verified keys, keyed by key digest.

Positive entries (digest -> Principal) live in an LRU of `max_entries`; unknown
digests live in a separate, smaller LRU with a short time to live, so a flood of
made-up keys neither reaches the database once per request nor evicts good entries.
Negative caching is safe: a new key is 190 fresh random bits, so nobody can have
presented it before it existed.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from relay.auth.principal import Principal


class KeyCache:
    """Digest -> Principal, with LRU eviction; plus short-lived "unknown" marks."""

    def __init__(self, max_entries: int, negative_entries: int, negative_ttl: float) -> None:
        self._max_entries = max_entries
        self._negative_entries = negative_entries
        self._negative_ttl = negative_ttl
        self._known: OrderedDict[str, Principal] = OrderedDict()
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
        self._known[key_hash] = principal
        self._known.move_to_end(key_hash)
        if len(self._known) > self._max_entries:
            self._known.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        """Drop a revoked key now; loads already in flight will not re-add it."""
        self.generation += 1
        self._known.pop(key_hash, None)

    def clear(self) -> None:
        self.generation += 1
        self._known.clear()
        self._unknown.clear()
