"""Field types shared by several domains' API schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def _as_utc(value: datetime) -> datetime:
    # A timestamp without an offset means UTC; one with an offset is converted,
    # so that every timestamp Relay returns ends in "Z".
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTCTimestamp = Annotated[datetime, AfterValidator(_as_utc)]
