"""Places of a busy Redis window leased by a worker, so that most of a busy key's
requests are decided in memory instead of by a round trip to Redis, while a window
still never lets more than its limit through.

A hit that goes to Redis may ask, for each of its windows with at least
LEASE_MIN_LIMIT places, for a few places more (at most a sixteenth of the places left,
and at most MAX_LEASE). Redis counts them as hits at once, each scored at the end of
the lease (the moment the worker stops handing them out), not at the hit's moment:
a place handed out at any time up to then is counted in the window for at least as
long as a hit made at that moment would be, so the window's count never falls short
of the hits really made, in any stretch of `period` seconds. The worker then hands
the places out from memory until the lease ends (LEASE_SECONDS, at most a twentieth of
the window's period, less CLOCK_MARGIN). Places left unused when a lease ends, and the
places a hit may have been granted when its answer was lost (a failed call, a request
cancelled while it waited), are given back (removed from Redis) with the worker's next
calls; a worker that goes quiet leaves them to age out with the window. So a key may
be refused a little early (by the places other workers hold), never let through late,
as quota leases are (quotas.py).

A lease's size adapts to the worker's traffic: it doubles when the places run out
before the lease ends and halves when places are left over, so a quiet worker holds
few places and a busy one enough for about one lease time's requests.

`remaining` on a leased window is Redis's count of places left at the grant plus the
places this worker still holds: for one worker, the exact number left.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # windows.py imports this module
    from relay.limits.windows import Window

# Windows with fewer places are decided hit by hit: a place held by one worker would
# be a large share of them.
LEASE_MIN_LIMIT = 1000
MAX_LEASE = 64
FIRST_LEASE = 4
LEASE_SECONDS = 0.05
# A worker stops handing out a lease's places this long before its end: Redis scores
# them on its clock, in whole milliseconds, and the worker times them on its own.
CLOCK_MARGIN = 0.002
# Windows a worker keeps leases of (the ones used last), places given back per call, and
# places waiting to be given back (the oldest forgotten: they age out with the window).
MAX_WINDOWS = 10_000
MAX_GIVEN_BACK = 256
MAX_RETURNS = 100_000
# A lease takes at most this share of the places left.
LEASE_SHARE = 16


def lease_seconds(window: Window) -> float:
    """How long a lease of the window's places lasts."""
    return min(LEASE_SECONDS, window.period / 20)


@dataclass(slots=True)
class _Lease:
    places: list[str] = field(default_factory=list)  # members held in Redis, unused
    until: float = 0.0  # when this worker stops handing them out (its clock)
    remaining: int = 0  # places left in the window at the grant (leased ones counted)
    reset_at: float = 0.0  # when the oldest counted hit leaves the window (its clock)
    size: int = FIRST_LEASE  # places to ask for next
    asking: bool = False  # a hit is out asking for a lease of this window


class WindowLeases:
    """One worker's leases, by window name (the MAX_WINDOWS used last); no I/O
    (RedisWindows sends what it says)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        # (window name, member) of places left unused: removed from Redis with the next
        # calls (at most MAX_GIVEN_BACK each), the oldest forgotten past MAX_RETURNS (they
        # then age out with their window).
        self._returns: deque[tuple[str, str]] = deque(maxlen=MAX_RETURNS)

    def take(self, windows: Sequence[Window]) -> list[tuple[int, float]] | None:
        """One hit on every window from the leases, when each holds a place still
        valid (then it is used): per window, (remaining, reset_after) as a Decision has
        them. Else None and nothing taken: the hit goes to Redis."""
        now = self._clock()
        leases = [self._leases.get(window.name) for window in windows]
        held = [lease for lease in leases if lease is not None and lease.places]
        if len(held) < len(windows) or any(now >= lease.until for lease in held):
            return None
        for lease in held:
            lease.places.pop()
        return [
            (lease.remaining + len(lease.places), max(lease.reset_at - now, 0.0)) for lease in held
        ]

    def wanted(self, window: Window) -> int:
        """How many places a hit going to Redis asks for beside its own (0: none, the
        window is small or another hit is asking already). Ends the window's lease if it
        is over or used up, its unused places to be given back."""
        if window.limit < LEASE_MIN_LIMIT:
            if window.name in self._leases:  # its limit was lowered: leased no more
                self._give_back_places(window.name, self._leases.pop(window.name))
            return 0
        lease = self._lease(window.name)
        if lease.asking:
            return 0
        if lease.places:
            if self._clock() < lease.until:
                return 0  # places left: another window of the hit had none
            self._give_back_places(window.name, lease)
            lease.size = max(lease.size // 2, 1)
        elif lease.until > self._clock():
            lease.size = min(lease.size * 2, MAX_LEASE)  # used up before its end
        lease.asking = True
        return lease.size

    def _lease(self, name: str) -> _Lease:
        lease = self._leases.get(name)
        if lease is None:
            lease = self._leases[name] = _Lease()
            if len(self._leases) > MAX_WINDOWS:
                oldest, forgotten = self._leases.popitem(last=False)
                self._give_back_places(oldest, forgotten)
        else:
            self._leases.move_to_end(name)
        return lease

    def _give_back_places(self, name: str, lease: _Lease) -> None:
        self._returns.extend((name, member) for member in lease.places)
        lease.places = []

    def granted(
        self,
        window: Window,
        members: list[str],
        remaining: int,
        reset_after: float,
        asked_at: float,
    ) -> None:
        """Redis's answer to a hit that asked for places of the window: `members` were
        counted for this worker, valid from `asked_at` (this clock's time before the
        call was sent) for the lease's time, less CLOCK_MARGIN; `remaining`: the places
        Redis had left (none of these among them); `reset_after`: as the hit's Decision
        has it."""
        lease = self._lease(window.name)
        lease.asking = False
        if not members:  # refused, or too few places left to lease: nothing to hand out
            return
        lease.places = members
        lease.until = asked_at + lease_seconds(window) - CLOCK_MARGIN
        lease.remaining = remaining
        lease.reset_at = asked_at + reset_after

    def not_granted(self, window: Window, members: list[str]) -> None:
        """The hit that asked for places got no answer (its call failed, or its request
        was cancelled while it waited): another hit may ask again, and the places Redis
        may have counted for it (`members`, the most it could have granted) are given
        back with the next call (removing a place never granted changes nothing)."""
        lease = self._leases.get(window.name)
        if lease is not None:
            lease.asking = False
        self._returns.extend((window.name, member) for member in members)

    def returns(self) -> list[tuple[str, str]]:
        """Places to give back with the next call (at most MAX_GIVEN_BACK), taken."""
        count = min(len(self._returns), MAX_GIVEN_BACK)
        return [self._returns.popleft() for _ in range(count)]

    def give_back(self, returns: list[tuple[str, str]]) -> None:
        """Places a failed call did not give back: with the next one."""
        self._returns.extendleft(reversed(returns))
