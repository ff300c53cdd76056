"""What the fuzzers share: how many examples, and Hypothesis settings for a live server."""

from __future__ import annotations

import os

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Examples per operation: 200 in `make test`, more with `make fuzz`.
EXAMPLES = int(os.environ.get("RELAY_FUZZ_EXAMPLES", "200"))

# Derandomized, so a failure repeats; no deadline, since a live server on a shared
# machine answers in its own time.
LIVE_SERVER = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
# For fuzzers that multiply the examples by many routes (a quarter as many each).
LIVE_SERVER_PER_ROUTE = hypothesis_settings(LIVE_SERVER, max_examples=max(EXAMPLES // 4, 10))
