"""A key's own rate limit: the setting (`RateLimit`, part of every ApiKey that has one)
and what the server said about it in an answer (`RateLimitStatus`).

The server sends two generations of the IETF draft (draft-ietf-httpapi-ratelimit-
headers) and the SDK reads both:
- the current one: `RateLimit-Policy: "key";q=600;w=60, "maker-1";q=5000;w=3600`
  and `RateLimit: "key";r=42;t=17, "maker-1";r=4800;t=900`, Structured Field lists
  (RFC 8941) with one item per window a request must pass (the key's own, and those
  of the keys that made it);
- draft 06's RateLimit-Limit, -Remaining and -Reset, of the tightest window, which
  is all an older server sends.
A malformed field is ignored, as the draft requires: it never turns an answer into
an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeGuard

import httpx


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` in any `per_seconds` seconds; more are answered 429."""

    requests: int
    per_seconds: int


@dataclass(frozen=True, slots=True)
class Quota:
    """One window a request of the key must pass, from the current draft's fields."""

    # "key" for the key's own window, "maker-1", ... for those of the keys that made it.
    name: str
    # Requests left in it (`r`), and seconds until one more is allowed (`t`); None
    # when the item has no `t`: nothing will free a place (a quota that never refills).
    remaining: int
    reset: int | None
    # Its limit (`q`) and length in seconds (`w`), from RateLimit-Policy; None when the
    # policy does not say (no `w` for a quota that never refills).
    limit: int | None
    window: int | None


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The rate-limit fields of one answer to a key that has a rate limit or a quota."""

    # The tightest window or quota (fewest requests left; of equals, the one that stays
    # so longest): its limit, what is left of it, and seconds until a place frees up
    # (the oldest request counted leaves the window, or the quota's period ends); None
    # when none ever will, the tightest being a quota that never refills.
    limit: int
    remaining: int
    reset: int | None
    # RateLimit-Policy as sent, e.g. '"key";q=600;w=60'.
    policy: str | None
    # Every window, as the current draft's fields name them (empty from a server that
    # sends only draft 06's).
    quotas: tuple[Quota, ...] = ()

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimitStatus | None:
        """The status in `headers`; None when they hold none (a key without a limit) or
        nothing readable, which must not turn a good answer into an error."""
        policy = headers.get("RateLimit-Policy")
        quotas = _quotas(headers.get("RateLimit"), policy)
        draft_06 = _draft_06(headers)
        if quotas:
            tightest = min(quotas, key=_tightness)
            limit = tightest.limit
            if limit is None and draft_06 is not None:
                limit = draft_06[0]
            if limit is not None:
                return cls(limit, tightest.remaining, tightest.reset, policy, quotas)
        if draft_06 is None:
            return None
        return cls(*draft_06, policy=policy)


def _tightness(quota: Quota) -> tuple[int, float]:
    """Fewest left first; of equals, the one that stays so longest (no reset: forever)."""
    return quota.remaining, -(math.inf if quota.reset is None else quota.reset)


def _draft_06(headers: httpx.Headers) -> tuple[int, int, int] | None:
    try:
        return (
            int(headers["RateLimit-Limit"]),
            int(headers["RateLimit-Remaining"]),
            int(headers["RateLimit-Reset"]),
        )
    except (KeyError, ValueError):
        return None


def _quotas(rate_limit: str | None, policy: str | None) -> tuple[Quota, ...]:
    """The windows named in RateLimit, with their limits from RateLimit-Policy; () when
    RateLimit is missing or malformed (a malformed policy only loses the limits). An item
    without `t` is well formed: nothing frees a place in it (a quota that never refills)."""
    if not rate_limit:
        return ()
    try:
        limits = parse_sf_list(rate_limit)
        policies = dict(parse_sf_list(policy)) if policy else {}
    except ValueError:
        return ()
    quotas = []
    for name, parameters in limits:
        remaining, reset = _count(parameters.get("r")), _count(parameters.get("t"))
        if not _is_string(name) or remaining is None or (reset is None and "t" in parameters):
            return ()
        shape = policies.get(name, {})
        quotas.append(Quota(name, remaining, reset, _whole(shape.get("q")), _whole(shape.get("w"))))
    return tuple(quotas)


def _is_string(value: object) -> TypeGuard[str]:
    """A Structured Field String (a policy's name must be one), not a Token."""
    return isinstance(value, str) and not isinstance(value, Token)


def _count(value: object) -> int | None:
    """A count of requests or seconds (`r`, `t`): a whole number, not negative."""
    whole = _whole(value)
    return whole if whole is not None and whole >= 0 else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Token(str):
    """A Structured Field Token (`key`), told apart from a String (`"key"`)."""


BareItem = int | float | str | bool | bytes
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?")


def parse_sf_list(text: str) -> list[tuple[BareItem, dict[str, BareItem]]]:
    """A Structured Field List of Items with their Parameters (RFC 8941, section 4.2;
    inner lists are not used by these fields and are refused); ValueError when malformed."""
    members: list[tuple[BareItem, dict[str, BareItem]]] = []
    position = _skip(text, 0, " \t")
    while position < len(text):
        item, position = _bare_item(text, position)
        parameters: dict[str, BareItem] = {}
        while position < len(text) and text[position] == ";":
            position = _skip(text, position + 1, " ")
            key_match = _KEY.match(text, position)
            if not key_match:
                raise ValueError("bad parameter key")
            position = key_match.end()
            value: BareItem = True
            if position < len(text) and text[position] == "=":
                value, position = _bare_item(text, position + 1)
            parameters[key_match.group()] = value
        members.append((item, parameters))
        position = _skip(text, position, " \t")
        if position == len(text):
            return members
        if text[position] != ",":
            raise ValueError("expected a comma between members")
        position = _skip(text, position + 1, " \t")
        if position == len(text):
            raise ValueError("trailing comma")
    raise ValueError("empty list")


def _skip(text: str, position: int, spaces: str) -> int:
    while position < len(text) and text[position] in spaces:
        position += 1
    return position


def _bare_item(text: str, position: int) -> tuple[BareItem, int]:
    if text.startswith('"', position):
        return _string(text, position + 1)
    if text.startswith("?1", position) or text.startswith("?0", position):
        return text[position + 1] == "1", position + 2
    number = _NUMBER.match(text, position)
    if number:
        value = number.group()
        return (float(value) if "." in value else int(value)), number.end()
    token = _TOKEN.match(text, position)
    if token:
        return Token(token.group()), token.end()
    if text.startswith(":", position):
        end = text.find(":", position + 1)
        if end < 0:
            raise ValueError("unterminated byte sequence")
        return text[position + 1 : end].encode("ascii"), end + 1
    raise ValueError("not a bare item")


def _string(text: str, position: int) -> tuple[str, int]:
    characters = []
    while position < len(text):
        character = text[position]
        if character == "\\":
            escaped = text[position + 1 : position + 2]
            if escaped not in ('"', "\\"):
                raise ValueError("bad escape in a string")
            characters.append(escaped)
            position += 2
        elif character == '"':
            return "".join(characters), position + 1
        elif not " " <= character <= "~":
            raise ValueError("a string holds only printable ASCII")
        else:
            characters.append(character)
            position += 1
    raise ValueError("unterminated string")
