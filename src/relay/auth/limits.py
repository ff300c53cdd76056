"""Failed authentications per client address: after `limit` in `window` seconds the
address gets 429 until the oldest failure leaves the window.

Counted in each worker's memory: a flood of bad keys must not cost a database
write each, so with N workers an address gets at most N x limit tries per window.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque

from relay.errors import RelayError


class TooManyFailures(RelayError):
    status_code = 429


class FailureLimiter:
    """A sliding window of failure times per address, for at most `max_addresses`."""

    def __init__(self, limit: int, window: float, max_addresses: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def check(self, address: str) -> None:
        """TooManyFailures, with a Retry-After, when the address used up its tries."""
        now = time.monotonic()
        failures = self._recent(address, now)
        if failures is None or len(failures) < self._limit:
            return
        retry_after = max(1, math.ceil(failures[0] + self._window - now))
        raise TooManyFailures(
            f"Too many failed authentication attempts. Retry after {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )

    def record_failure(self, address: str) -> None:
        now = time.monotonic()
        failures = self._recent(address, now)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self._limit)
            if len(self._failures) > self._max_addresses:
                self._failures.popitem(last=False)
        self._failures.move_to_end(address)
        failures.append(now)
