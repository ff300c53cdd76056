"""Keyset pagination: an opaque cursor naming the last row of a page (its created_at
and id), so the next page starts right after it whatever was added or deleted
meanwhile, at the same cost however deep it is (no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute

from relay.errors import InvalidInput

INVALID_CURSOR = "Invalid cursor: use the next_cursor (or Link) of a previous page"


class InvalidCursor(InvalidInput):
    def __init__(self) -> None:
        super().__init__(INVALID_CURSOR, loc=("query", "cursor"))


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{row_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """(created_at, id) of the cursor; InvalidCursor (422) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = raw.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None:
            raise ValueError("naive")
        return created_at, uuid.UUID(hex=row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None


Column = ColumnElement[Any] | QueryableAttribute[Any]


def older_than(created_at: Column, row_id: Column, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor's in newest-first order (created_at desc, id desc)."""
    when, last_id = decode_cursor(cursor)
    return or_(created_at < when, and_(created_at == when, row_id < last_id))
