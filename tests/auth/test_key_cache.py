"""The bounded cache of verified keys: LRU, negative entries, revocation races."""

from __future__ import annotations

import uuid

from relay.auth.cache import KeyCache
from relay.auth.principal import Principal


def principal() -> Principal:
    return Principal(
        tenant_id=uuid.uuid4(),
        key_id=uuid.uuid4(),
        key_prefix="rl_live_abcd",
        scopes=(),
        expires_at=None,
    )


def test_least_recently_used_entry_is_evicted_first() -> None:
    cache = KeyCache(max_entries=2, negative_entries=10, negative_ttl=60)
    cache.put("a", principal(), generation=cache.generation)
    cache.put("b", principal(), generation=cache.generation)
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", principal(), generation=cache.generation)
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert len(cache) == 2


def test_flood_of_unknown_keys_does_not_evict_good_entries() -> None:
    cache = KeyCache(max_entries=2, negative_entries=100, negative_ttl=60)
    good = principal()
    cache.put("good", good, generation=cache.generation)
    for number in range(10_000):
        cache.put(f"unknown-{number}", None, generation=cache.generation)
    assert cache.get("good") is good
    assert cache.refusal("unknown-9999") is not None
    assert cache.refusal("unknown-0") is None  # the negative side is bounded too


def test_negative_entries_expire() -> None:
    cache = KeyCache(max_entries=2, negative_entries=10, negative_ttl=0)
    cache.put("unknown", None, generation=cache.generation)
    assert cache.refusal("unknown") is None


def test_load_that_began_before_a_revocation_is_not_cached() -> None:
    cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=60)
    generation = cache.generation  # a request starts loading the key from the database
    cache.forget("revoked")  # meanwhile the key is revoked
    cache.put("revoked", principal(), generation=generation)
    assert cache.get("revoked") is None


def test_forget_drops_a_cached_key() -> None:
    cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=60)
    cache.put("key", principal(), generation=cache.generation)
    cache.forget("key")
    assert cache.get("key") is None


def test_a_prewarm_never_replaces_what_a_request_cached() -> None:
    cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=60)
    generation = cache.generation  # a prewarm starts loading
    fresh = principal()
    cache.put("used", fresh, generation=cache.generation)  # a request loads the key too
    cache.put("unknown", None, generation=cache.generation)
    older = principal()
    added = cache.warm([("used", older), ("unknown", older)], generation=generation)
    assert added == 0
    assert cache.get("used") is fresh
    assert cache.get("unknown") is None


def test_prewarmed_entries_are_evicted_before_those_requests_cached() -> None:
    cache = KeyCache(max_entries=3, negative_entries=10, negative_ttl=60)
    cache.put("requested", principal(), generation=cache.generation)
    # Most recently used first, as the prewarm loads them.
    cache.warm([("recent", principal()), ("older", principal())], generation=cache.generation)
    cache.put("new", principal(), generation=cache.generation)
    assert cache.get("older") is None
    assert cache.get("recent") is not None
    assert cache.get("requested") is not None


def test_a_prewarm_stops_when_the_cache_is_full() -> None:
    cache = KeyCache(max_entries=2, negative_entries=10, negative_ttl=60)
    cache.put("requested", principal(), generation=cache.generation)
    added = cache.warm([("a", principal()), ("b", principal())], generation=cache.generation)
    assert added == 1
    assert cache.get("requested") is not None
    assert cache.get("a") is not None


def test_a_prewarm_load_that_began_before_a_revocation_adds_nothing() -> None:
    cache = KeyCache(max_entries=10, negative_entries=10, negative_ttl=60)
    generation = cache.generation
    revoked = principal()
    cache.forget_family(revoked.key_id)
    assert cache.warm([("revoked", revoked)], generation=generation) is None
    assert cache.get("revoked") is None
