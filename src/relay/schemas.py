"""Field types shared by several domains' API schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel


def _as_utc(value: datetime) -> datetime:
    # A timestamp without an offset means UTC; one with an offset is converted,
    # so that every timestamp Relay returns ends in "Z".
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:00:00-05:00 is past the last UTC moment Python can hold.
        raise ValueError("timestamp out of range (years 1 to 9999, in UTC)") from None


UTCTimestamp = Annotated[datetime, AfterValidator(_as_utc)]


def iso_utc(value: datetime) -> str:
    """A UTC timestamp as every answer of Relay writes it: ISO 8601 ending in "Z"."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# C0 controls but tab, newline and carriage return, and DEL. PostgreSQL cannot
# store NUL at all, and none of them belongs in a name or a description.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL_CHARACTERS.search(value) is not None


def storable(text: str) -> bool:
    """False for text no database column can hold: NUL (PostgreSQL refuses it in any
    text) or a lone surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def reject_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


# Add to any user-supplied text field.
NoControlCharacters = AfterValidator(reject_control_characters)


class ErrorDetail(BaseModel):
    """Every error Relay returns, but validation errors, has this shape."""

    detail: str
