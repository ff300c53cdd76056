"""The limits Relay enforces, on top of the windows:

- Failed authentications per client address: after `failure_limit` failures in
  `failure_window` seconds, the address's further failures get 429 instead of 401.
  A valid key is never refused by it: the limit only decides how refused keys are
  answered, so a script with a revoked key behind the same NAT as a customer's
  servers cannot take them down.
- A key's rate limits: at most N requests in any S seconds, counted per key family
  (a rotated key's successor shares its window) and over the key's lineage: a request
  also counts in the window of every family whose key made the key's family, directly
  or through other keys, and passes only when every window has room (then it counts
  in all of them; refused, in none). Every answer to a key with a window carries the
  current IETF draft's fields (draft-ietf-httpapi-ratelimit-headers, 09 and later),
  one item per window: `RateLimit-Policy: "key";q=600;w=60, "maker-1";q=5000;w=3600`
  and `RateLimit: "key";r=42;t=17, "maker-1";r=4800;t=900` (r: requests left, t:
  seconds until one more is allowed). Draft 06's RateLimit-Limit, -Remaining and
  -Reset stay beside them for the clients written against it, describing the
  tightest window (fewest requests left). A request over a limit gets 429 with
  Retry-After, its detail and draft-06 fields naming the window that refused it.
- A key's quotas (quotas.py): at most N requests accepted per UTC day, month or
  ever, over the key's family and lineage like the rate limits; each appears in the
  RateLimit fields as "quota" (its own) or "maker-N-quota", with `w` the period's
  length (none for a quota that never refills). Past one: 429 "API key quota
  exhausted", with Retry-After until the period ends when it does. Quotas are taken
  first; a request a rate limit then refuses gives its units back.
- A limit pool's rate limit and quota (limit_pools/): every key in the pool counts in
  them as well, named "pool" and "pool-quota" in the RateLimit fields; the tightest
  of all decides, as above.
- Dashboard sign-in attempts and sign-ups per client address (all of them, not only
  failures): each costs an argon2 hash, so an address gets a bounded share. Password
  reset requests per address, and mail per recipient, so no one is flooded with it.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from relay import metrics
from relay.config import Settings
from relay.db import utcnow
from relay.errors import RelayError
from relay.limits.quotas import Quota, QuotaDecision, QuotaLedger
from relay.limits.windows import Decision, Window, Windows

# Signed reports per address: a reporter sends a batch now and then, never a stream.
LEAK_REPORT_LIMIT = 60
LEAK_REPORT_WINDOW = 60.0


class TooManyRequests(RelayError):
    """429: the key, or a key of its lineage, is over its rate limit."""

    status_code = 429
    code = "rate_limited"


class QuotaExhausted(TooManyRequests):
    """429: the key's quota, or the quota of a key that made it, is used up."""

    code = "quota_exhausted"


QUOTA_EXHAUSTED = "API key quota exhausted"


class TooManyAuthFailures(TooManyRequests):
    """429 instead of 401: the address has failed to authenticate too often."""

    code = "too_many_auth_failures"


class TooManyAttempts(TooManyRequests):
    """429: an address's (or an account's) share of costly attempts is used up."""

    code = "too_many_attempts"


def family_window(family_id: uuid.UUID, requests: int, seconds: int) -> Window:
    """The window a key family's rate limit counts in: shared by every key of the
    family, and by every key the family made (key:<id of the family's first key>)."""
    return Window(f"key:{family_id}", requests, seconds)


def pool_window(pool_id: uuid.UUID, requests: int, seconds: int) -> Window:
    """The window a limit pool's rate limit counts in: shared by every key in the pool."""
    return Window(f"{POOL_WINDOW}{pool_id}", requests, seconds)


POOL_WINDOW = "pool:"
# What the RateLimit fields call the key family's own window and its pool's; the
# windows of the families that made it are "maker-1", "maker-2", ... in the
# principal's order (by family id), so each window keeps its name on every answer.
OWN_POLICY = "key"
POOL_POLICY = "pool"


def policy_names(windows: Sequence[Window], family_id: uuid.UUID | None) -> tuple[str, ...]:
    """The name each of a key's windows goes by in RateLimit-Policy and RateLimit
    (worked out once per key's windows: every request of the key asks)."""
    return _policy_names(tuple(windows), family_id)


@functools.lru_cache(maxsize=4096)
def _policy_names(windows: tuple[Window, ...], family_id: uuid.UUID | None) -> tuple[str, ...]:
    own = family_window(family_id, 1, 1).name if family_id else None
    makers = (f"maker-{number}" for number in range(1, len(windows) + 1))
    return tuple(
        OWN_POLICY
        if window.name == own
        else POOL_POLICY
        if window.name.startswith(POOL_WINDOW)
        else next(makers)
        for window in windows
    )


# A quota as RateLimit-Policy names it: (name, requests, the period's length or None).
_QuotaPolicy = tuple[str, int, int | None]


@functools.lru_cache(maxsize=4096)
def _policy_field(
    windows: tuple[tuple[str, int, float], ...], quotas: tuple[_QuotaPolicy, ...]
) -> str:
    """RateLimit-Policy for windows (name, limit, period) and quotas: the same on every
    answer to a key until a month ends (a month's quota has that month's length)."""
    policies = [f'"{name}";q={limit};w={int(period)}' for name, limit, period in windows]
    policies += [
        f'"{name}";q={requests}' + (f";w={length}" if length else "")
        for name, requests, length in quotas
    ]
    return ", ".join(policies)


def rate_limit_headers(
    windows: Sequence[tuple[str, Window, Decision]],
    reported: Decision | None,
    quotas: Sequence[tuple[str, QuotaDecision]] = (),
    now: datetime | None = None,
) -> dict[str, str]:
    """The RateLimit fields of an answer: the current draft's RateLimit-Policy and
    RateLimit (Structured Field lists, an item per named window, then per named
    quota), and draft 06's RateLimit-Limit, -Remaining and -Reset of the `reported`
    window's decision (none without a window)."""
    states = [
        f'"{name}";r={max(decision.remaining, 0)};t={decision.retry_after}'
        for name, _, decision in windows
    ]
    if quotas:
        moment = now or utcnow()
        for name, quota in quotas:
            seconds = _until(quota.resets_at, moment)
            states.append(f'"{name}";r={quota.remaining}' + (f";t={seconds}" if seconds else ""))
    policy = _policy_field(
        tuple((name, window.limit, window.period) for name, window, _ in windows),
        tuple((name, quota.quota.requests, quota.length) for name, quota in quotas),
    )
    headers = {"RateLimit-Policy": policy, "RateLimit": ", ".join(states)}
    if reported is not None:
        headers |= {
            "RateLimit-Limit": str(reported.limit),
            "RateLimit-Remaining": str(max(reported.remaining, 0)),
            "RateLimit-Reset": str(reported.retry_after),
        }
    return headers


def _until(moment: datetime | None, now: datetime) -> int | None:
    return None if moment is None else max(math.ceil((moment - now).total_seconds()), 1)


def quota_names(quotas: Sequence[Quota], family_id: uuid.UUID | None) -> tuple[str, ...]:
    """The name each of a key's quotas goes by in the RateLimit fields (worked out once
    per key's quotas)."""
    return _quota_names(tuple(quotas), family_id)


@functools.lru_cache(maxsize=4096)
def _quota_names(quotas: tuple[Quota, ...], family_id: uuid.UUID | None) -> tuple[str, ...]:
    makers = (f"maker-{number}-quota" for number in range(1, len(quotas) + 1))
    return tuple(
        "pool-quota" if quota.pool else "quota" if quota.family_id == family_id else next(makers)
        for quota in quotas
    )


class Limits:
    def __init__(
        self, windows: Windows, settings: Settings, ledger: QuotaLedger | None = None
    ) -> None:
        self.windows = windows
        self.ledger = ledger
        self._settings = settings
        self._failure_limit = settings.auth_failure_limit
        self._failure_window = settings.auth_failure_window

    async def dashboard_attempt(self, kind: str, address: str) -> None:
        """Count a sign-in ("sign-in"), sign-up ("sign-up"), password-reset request
        ("password-reset") or leak report ("leak-report") from the client's address, a
        message to an email address ("email", `address` being the email) or an invitation
        mailed by a tenant ("invitation", `address` being its id);
        TooManyRequests when over its share."""
        settings = self._settings
        limit, window, what = {
            "sign-in": (settings.signin_attempt_limit, settings.signin_attempt_window,
                        "sign-in attempts from your network"),
            "sign-up": (settings.signup_limit, settings.signup_window,
                        "sign-up attempts from your network"),
            "password-reset": (settings.password_reset_limit, settings.password_reset_window,
                               "password reset requests from your network"),
            "leak-report": (LEAK_REPORT_LIMIT, LEAK_REPORT_WINDOW,
                            "leak reports from your network"),
            # Counted whether or not the email has an account: the answer tells nothing.
            "email": (settings.email_limit, settings.email_window,
                      "messages were asked for this email address"),
            "invitation": (settings.invitation_limit, settings.invitation_window,
                           "invitations were sent from your organisation"),
        }[kind]  # fmt: skip
        decision = await self.windows.hit(f"{kind}:{address}", limit, window)
        if not decision.allowed:
            raise TooManyAttempts(
                f"Too many {what}. Try again in {decision.retry_after} seconds.",
                headers={"Retry-After": str(decision.retry_after)},
            )

    async def after_failure(self, address: str) -> None:
        """Count a refused authentication; TooManyRequests once the address is over."""
        decision = await self.windows.hit(
            f"auth-failures:{address}", self._failure_limit, self._failure_window
        )
        if not decision.allowed:
            metrics.AUTH_FAILURES.labels("rate_limited").inc()
            raise TooManyAuthFailures(
                "Too many failed authentication attempts. "
                f"Retry after {decision.retry_after} seconds.",
                headers={"Retry-After": str(decision.retry_after)},
            )

    async def check_key(
        self,
        windows: Sequence[Window],
        family_id: uuid.UUID | None = None,
        quotas: Sequence[Quota] = (),
    ) -> dict[str, str]:
        """Count a request of the key of family `family_id` in its quotas, then its
        windows (Principal.quotas, .limit_windows): the RateLimit fields of them all,
        none without either; QuotaExhausted or TooManyRequests, carrying them and
        Retry-After, when one is used up or full."""
        if not windows and not quotas:
            return {}
        named_quotas: list[tuple[str, QuotaDecision]] = []
        if quotas and self.ledger is not None:
            taken = await self.ledger.take(quotas)
            named_quotas = list(zip(quota_names(quotas, family_id), taken, strict=True))
            exhausted = [quota for quota in taken if not quota.allowed]
            if exhausted:
                metrics.RATE_LIMITED.inc()
                raise _exhausted(exhausted, rate_limit_headers([], None, named_quotas))
        decisions = await self.windows.hit_all(windows) if windows else []
        named = list(zip(policy_names(windows, family_id), windows, decisions, strict=True))
        refusals = [item for item in named if not item[2].allowed]
        if refusals:
            if quotas and self.ledger is not None:
                await self.ledger.give_back(quotas)  # refused: not a request of the quota's
                named_quotas = [
                    (name, replace(quota, remaining=quota.remaining + 1))
                    for name, quota in named_quotas
                ]
            # The window that frees a place last: retrying sooner would be refused again.
            _, window, decision = max(refusals, key=lambda item: item[2].reset_after)
            headers = rate_limit_headers(named, decision, named_quotas)
            metrics.RATE_LIMITED.inc()
            raise TooManyRequests(
                f"Rate limit exceeded: {window.limit} requests per {window.period} seconds. "
                f"Retry after {decision.retry_after} seconds.",
                headers=headers | {"Retry-After": str(decision.retry_after)},
            )
        # Fewest left; of equals, the one that stays so longest.
        tightest = (
            min(decisions, key=lambda decision: (decision.remaining, -decision.reset_after))
            if decisions
            else None
        )
        return rate_limit_headers(named, tightest, named_quotas)


def _exhausted(exhausted: Sequence[QuotaDecision], headers: dict[str, str]) -> QuotaExhausted:
    """429 for used-up quotas, with Retry-After until the last of them refills (none
    when one never does)."""
    resets = [quota.resets_at for quota in exhausted]
    if None not in resets:
        latest = max(reset for reset in resets if reset is not None)
        headers = headers | {"Retry-After": str(_until(latest, utcnow()))}
    return QuotaExhausted(QUOTA_EXHAUSTED, headers=headers)
