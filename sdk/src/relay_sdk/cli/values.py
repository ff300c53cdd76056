"""The values people type into relayctl and read back from it: durations (`90d`),
moments (`2030-12-31`, `24h` ago), grace periods (`1h`, `until_quiet`), rate limits
(`600/60s`) and quotas (`1000/day`), and an option paired with the flag that removes it.
A value that cannot be read is a usage mistake (typer.BadParameter, exit status 2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

import typer

from relay_sdk.api_keys import KeyQuota, KeyQuotaStatus
from relay_sdk.operations import NOT_GIVEN
from relay_sdk.rate_limits import RateLimit

_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Largest first; the last divides every whole number of seconds.
_UNIT_SECONDS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_DATE_ALONE = re.compile(r"\d{4}-\d\d-\d\d")


def parse_duration(text: str) -> timedelta:
    """`30s`, `30m`, `12h`, `90d` or `2w` as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise typer.BadParameter("expected a number and a unit: 30s, 30m, 12h, 90d or 2w")
    amount, unit = match.groups()
    return timedelta(**{_DURATION_UNITS[unit]: int(amount)})


def parse_seconds(text: str) -> int:
    """A duration (see parse_duration) in whole seconds."""
    return int(parse_duration(text).total_seconds())


UNTIL_QUIET: Literal["until_quiet"] = "until_quiet"


def parse_grace(text: str) -> int | Literal["until_quiet"]:
    """A rotation's grace period: a duration in whole seconds, or `until_quiet` (until
    the old key has gone 15 minutes without a request, at most 7 days)."""
    if text.strip() == UNTIL_QUIET:
        return UNTIL_QUIET
    try:
        return parse_seconds(text)
    except typer.BadParameter:
        raise typer.BadParameter(
            f"expected a number and a unit (30s, 30m, 12h, 7d) or {UNTIL_QUIET}"
        ) from None


def parse_moment(text: str, *, date_alone_means: time) -> datetime:
    """ISO 8601; a date alone means that time of the day, and no offset means UTC."""
    text = text.strip()
    try:
        if _DATE_ALONE.fullmatch(text):
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, date_alone_means, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected an ISO 8601 date or time, e.g. 2030-12-31") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_expiry(text: str) -> datetime:
    """When a key stops working: a date alone means the end of that day."""
    return parse_moment(text, date_alone_means=time(23, 59, 59))


def parse_since(text: str) -> datetime:
    """How far back to look: a duration (`24h`: the last 24 hours), or a moment, where a
    date alone means the start of that day."""
    if _DURATION.fullmatch(text.strip()):
        return datetime.now(UTC) - parse_duration(text)
    return parse_moment(text, date_alone_means=time(0, 0))


def parse_rate_limit(text: str) -> RateLimit:
    """`600/60s`, `10000/1d`: at most that many requests in any such window."""
    requests, _, window = text.partition("/")
    if not requests.strip().isdecimal() or not window:
        raise typer.BadParameter("expected requests/window, e.g. 600/60s or 10000/1d")
    return RateLimit(requests=int(requests), per_seconds=parse_seconds(window))


def format_rate_limit(limit: RateLimit | None) -> str:
    """`600/1m`, `10000/1d`: the window in its largest whole unit, as people type it
    (parse_rate_limit reads it back)."""
    if limit is None:
        return "none"
    seconds = limit.per_seconds
    unit, size = next((unit, size) for unit, size in _UNIT_SECONDS if seconds % size == 0)
    return f"{limit.requests}/{seconds // size}{unit}"


QUOTA_PERIODS = ("day", "month", "none")


def parse_quota(text: str) -> KeyQuota:
    """`1000/day`, `50000/month`, `100/none` (never refills)."""
    requests, _, period = text.partition("/")
    if not requests.strip().isdecimal() or period.strip() not in QUOTA_PERIODS:
        raise typer.BadParameter("expected requests/period, e.g. 1000/day, 50000/month, 100/none")
    return KeyQuota(requests=int(requests), period=period.strip())


def format_quota(quota: KeyQuotaStatus | None) -> str:
    """`987 of 1000/day left (refills 2026-12-08 00:00 UTC)`; `none`."""
    if quota is None:
        return "none"
    refill = (
        f" (refills {quota.resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
        if quota.resets_at
        else ""
    )
    return f"{quota.remaining} of {quota.requests}/{quota.period} left{refill}"


def either(value: Any, remove: bool, option: str, removal: str = "") -> Any:
    """An option and the flag that removes what it sets (`--quota` and `--no-quota`):
    `value` when given, None when `remove` is (the API's "remove it"), else NOT_GIVEN."""
    if value and remove:
        raise typer.BadParameter(f"give {option} or {removal or '--no-' + option[2:]}, not both")
    if value:
        return value
    return None if remove else NOT_GIVEN
