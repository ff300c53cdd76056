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
  in all of them; refused, in none). Every answer to a key with a window carries
  RateLimit-Limit, -Remaining, -Reset and -Policy (the IETF draft's names) of its
  tightest window (fewest requests left), and a request over a limit gets 429 with
  Retry-After, naming the window that refused it.
- Dashboard sign-in attempts and sign-ups per client address (all of them, not only
  failures): each costs an argon2 hash, so an address gets a bounded share. Password
  reset requests per address, and mail per recipient, so no one is flooded with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from relay import metrics
from relay.config import Settings
from relay.errors import RelayError
from relay.limits.windows import Decision, Window, Windows

# Signed reports per address: a reporter sends a batch now and then, never a stream.
LEAK_REPORT_LIMIT = 60
LEAK_REPORT_WINDOW = 60.0


class TooManyRequests(RelayError):
    status_code = 429


def family_window(family_id: uuid.UUID, requests: int, seconds: int) -> Window:
    """The window a key family's rate limit counts in: shared by every key of the
    family, and by every key the family made (key:<id of the family's first key>)."""
    return Window(f"key:{family_id}", requests, seconds)


def rate_limit_headers(decision: Decision, window: Window) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(max(decision.remaining, 0)),
        "RateLimit-Reset": str(decision.retry_after),
        "RateLimit-Policy": f"{decision.limit};w={window.period}",
    }


class Limits:
    def __init__(self, windows: Windows, settings: Settings) -> None:
        self.windows = windows
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
            raise TooManyRequests(
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
            raise TooManyRequests(
                "Too many failed authentication attempts. "
                f"Retry after {decision.retry_after} seconds.",
                headers={"Retry-After": str(decision.retry_after)},
            )

    async def check_key(self, windows: Sequence[Window]) -> dict[str, str]:
        """Count a key's request in its windows (Principal.limit_windows): the
        RateLimit-* headers of the tightest, none without a window; TooManyRequests,
        carrying them and Retry-After, when one of them is full."""
        if not windows:
            return {}
        decisions = await self.windows.hit_all(windows)
        refusals = [pair for pair in zip(decisions, windows, strict=True) if not pair[0].allowed]
        if refusals:
            # The window that frees a place last: retrying sooner would be refused again.
            decision, window = max(refusals, key=lambda pair: pair[0].reset_after)
            headers = rate_limit_headers(decision, window)
            metrics.RATE_LIMITED.inc()
            raise TooManyRequests(
                f"Rate limit exceeded: {window.limit} requests per {window.period} seconds. "
                f"Retry after {decision.retry_after} seconds.",
                headers=headers | {"Retry-After": str(decision.retry_after)},
            )
        # Fewest left; of equals, the one that stays so longest.
        decision, window = min(
            zip(decisions, windows, strict=True),
            key=lambda pair: (pair[0].remaining, -pair[0].reset_after),
        )
        return rate_limit_headers(decision, window)
