"""A rate limit and a quota as the dashboard's forms offer them (a key's, in the create
dialog and on its page; a limit pool's), and as its pages say them: "600 requests per
60 seconds", "987 of 1,000 left today, refills 2026-12-08 00:00 UTC". The rules are the
API's own (relay.auth.schemas RateLimit and Quota): this module only words them.

Numbers are typed in text fields with a numeric keyboard, not `type="number"`, which
sends a mistyped value as empty: here that would mean "no limit".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from relay.auth.schemas import MAX_QUOTA_REQUESTS, MAX_RATE_LIMIT_REQUESTS, MAX_RATE_LIMIT_SECONDS
from relay.dashboard.form_errors import FormField
from relay.dashboard.web import field, when

# The form's field names (the same in every form that has them).
NAMES = ("rate_limit_requests", "rate_limit_seconds", "quota_requests", "quota_period")
# Period -> what its menu says.
PERIODS = {"day": "Per day", "month": "Per month", "none": "In all, never refilled"}
# Period -> the end of "987 of 1,000 left ...".
_LEFT = {"day": " today", "month": " this month", "none": ""}


def _whole_number(element: str, label: str, wanted: str) -> FormField:
    # Whatever pydantic found (not a number, a fraction, out of range, too long to
    # read), the person is told the one thing the field takes.
    said = f"{label}: enter a whole number of {wanted}"
    return FormField(element, label, rewrites=tuple((found, said) for found in ("integer", "than")))


@dataclass(frozen=True)
class LimitFields:
    """The rate limit and quota fields of one form; `prefix` starts their element ids
    ("key", "pool"): each page has one such form."""

    prefix: str

    @property
    def rate_requests(self) -> str:
        return f"{self.prefix}-rate-requests"

    @property
    def rate_seconds(self) -> str:
        return f"{self.prefix}-rate-seconds"

    @property
    def quota_requests(self) -> str:
        return f"{self.prefix}-quota-requests"

    @property
    def quota_period(self) -> str:
        return f"{self.prefix}-quota-period"

    @property
    def order(self) -> tuple[str, ...]:
        """Their element ids, in page order."""
        return (self.rate_requests, self.rate_seconds, self.quota_requests, self.quota_period)

    @property
    def fields(self) -> dict[str, FormField]:
        """How each shows its errors, by pydantic's location, in page order."""
        return {
            "rate_limit.requests": _whole_number(
                self.rate_requests, "Rate limit", f"requests from 1 to {MAX_RATE_LIMIT_REQUESTS:,}"
            ),
            "rate_limit.per_seconds": _whole_number(
                self.rate_seconds, "Rate limit", f"seconds from 1 to {MAX_RATE_LIMIT_SECONDS:,}"
            ),
            "quota.requests": _whole_number(
                self.quota_requests,
                "Quota",
                f"requests from 1 to {MAX_QUOTA_REQUESTS:,}, or leave it empty for none",
            ),
            "quota.period": FormField(self.quota_period, "Quota period"),
        }

    def read(self, values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The fields as the API takes them, `rate_limit` and `quota` (None: no such
        limit; the numbers still text, for the schema to check); and what the form
        itself finds wrong, {element id: message}: a rate limit half given."""
        errors: dict[str, str] = {}
        requests, seconds = values["rate_limit_requests"], values["rate_limit_seconds"]
        rate_limit = None
        if requests and seconds:
            rate_limit = {"requests": requests, "per_seconds": seconds}
        elif requests or seconds:
            missing = self.rate_seconds if requests else self.rate_requests
            errors[missing] = "Rate limit: enter both the requests and the seconds, or neither"
        quota = None
        if values["quota_requests"]:
            quota = {"requests": values["quota_requests"], "period": values["quota_period"]}
        return {"rate_limit": rate_limit, "quota": quota}, errors


def values_of_form(form: FormData) -> dict[str, str]:
    """What the fields held (spaces around a number dropped), to read or show again."""
    return {name: field(form, name).strip() for name in NAMES}


def values_of(
    rate_limit: dict[str, int] | None, quota_requests: int | None, quota_period: str | None
) -> dict[str, str]:
    """The fields as a key's or a pool's own limits fill them; empty: none."""
    return {
        "rate_limit_requests": str(rate_limit["requests"]) if rate_limit else "",
        "rate_limit_seconds": str(rate_limit["per_seconds"]) if rate_limit else "",
        "quota_requests": "" if quota_requests is None else str(quota_requests),
        "quota_period": quota_period or "day",
    }


def rate_limit_said(rate_limit: dict[str, int] | None, *, compact: bool = False) -> str:
    """ "600 requests per 60 seconds" ("600 per 60 s", compact); "" for none."""
    if rate_limit is None:
        return ""
    requests, seconds = rate_limit["requests"], rate_limit["per_seconds"]
    if compact:
        return f"{requests:,} per {seconds:,} s"
    return f"{requests:,} request{'s' if requests != 1 else ''} per {seconds:,} second" + (
        "s" if seconds != 1 else ""
    )


def quota_said(
    requests: int,
    period: str,
    remaining: int,
    resets_at: datetime | None,
    *,
    compact: bool = False,
) -> str:
    """ "987 of 1,000 left today, refills 2026-12-08 00:00 UTC" (without the refill,
    compact); a quota that never refills says so."""
    left = f"{remaining:,} of {requests:,} left{_LEFT.get(period, '')}"
    if compact:
        return left
    if resets_at is None:
        return f"{left}, never refills"
    return f"{left}, refills {when(resets_at)}"
