"""Keyset pagination for every list (datasets, API keys, audit events): an opaque
cursor naming the (created_at, id) of the last row a page returned, bound to the
tenant it was issued to, so the next page starts right after it whatever was added
or deleted meanwhile, at the same cost however deep it is (no OFFSET).

The list contract, for every list added from now on: `GET /api/v1/<things>` takes
`cursor` (a previous page's `next_cursor`) and `page_size`, and answers a
`CursorPage` subclass: `{"items": [...], "next_cursor": "..." or null}`, with
`total` only where counting costs O(1) (never a COUNT over a table that grows without
bound, such as the audit log). Every list reads its rows newest first, one more than
the page, and `keyset_page` makes the page and its next position from them, the one
place that does. The lists older than the contract keep their shapes: the datasets'
(with `total`, `page`, `page_size`) and the audit log's (with `page`, `page_size`,
`has_more`) hold it and add to it; the key list stays the guide's bare array, its next
page in a `Link` header.

A cursor is 43 base64url characters: 8 bytes of microseconds since the epoch, the
16 bytes of the id, and an 8-byte tag derived from the tenant and those 24 bytes.
The tag makes a cursor from another tenant (or a mangled one) fail to decode, so it
gets the same 422 as any malformed cursor and its answer shows nothing of either
tenant. No secret is needed: a cursor only bounds a query already scoped to the
caller's tenant, so a forged one can reveal nothing that page 1 would not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import QueryableAttribute

from relay.errors import InvalidInput
from relay.text import TransientText

# A cursor as a query string carries it: it only passes through (decoded, then checked).
Cursor = Annotated[str, TransientText(max_length=100)]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POSITION = struct.Struct(">q16s")
_TAG_BYTES = 8
CURSOR_LENGTH = 43  # base64url of 32 bytes, unpadded
INVALID_CURSOR = "Invalid cursor: pass the next_cursor (or Link) of a previous page, unchanged"
CURSOR_WITH_PAGE = "Pass either cursor or page, not both: a cursor already says where the page is"


class InvalidCursor(InvalidInput):
    """The cursor was not issued by this server to this tenant: a 422 in FastAPI's
    validation shape, as for any bad query parameter."""

    code = "validation_error"
    error_type = "invalid_cursor"

    def __init__(self, message: str = INVALID_CURSOR) -> None:
        super().__init__(message, loc=("query", "cursor"))


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the rows after it are strictly older in (created_at, id)."""

    created_at: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, row: Keyed) -> Position:
        """Where a page that ends with `row` ends."""
        return cls(row.created_at, row.id)


class Keyed(Protocol):
    """A row with the two columns a keyset orders by (an API key, a dataset)."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


def _tag(tenant_id: uuid.UUID, position: bytes) -> bytes:
    return hashlib.blake2b(tenant_id.bytes + position, digest_size=_TAG_BYTES).digest()


def encode_cursor(tenant_id: uuid.UUID, position: Position) -> str:
    micros = (position.created_at - _EPOCH) // timedelta(microseconds=1)
    packed = _POSITION.pack(micros, position.id.bytes)
    raw = packed + _tag(tenant_id, packed)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(tenant_id: uuid.UUID, cursor: str) -> Position:
    """The position `cursor` names; InvalidCursor unless it was issued to `tenant_id`."""
    if len(cursor) != CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=")
    except (binascii.Error, ValueError):
        raise InvalidCursor() from None
    packed, tag = raw[: _POSITION.size], raw[_POSITION.size :]
    if len(tag) != _TAG_BYTES or tag != _tag(tenant_id, packed):
        raise InvalidCursor()
    micros, id_bytes = _POSITION.unpack(packed)
    try:
        created_at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidCursor() from None
    return Position(created_at=created_at, id=uuid.UUID(bytes=id_bytes))


def cursor_or_page(tenant_id: uuid.UUID, cursor: str | None, page: int | None) -> Position | None:
    """For a list read by `page` or by `cursor` (never both): the position a cursor
    names, or None to read by page number; InvalidCursor for both, or a bad cursor."""
    if cursor is None:
        return None
    if page is not None:
        raise InvalidCursor(CURSOR_WITH_PAGE)
    return decode_cursor(tenant_id, cursor)


Column = ColumnElement[Any] | QueryableAttribute[Any]


def after(created_at: Column, row_id: Column, position: Position) -> ColumnElement[bool]:
    """Rows strictly after `position` in newest-first order (created_at desc, id desc)."""
    return tuple_(created_at, row_id) < tuple_(position.created_at, position.id)


RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[RowT]):
    """A page of rows, and where the next page starts (None on the last page)."""

    items: Sequence[RowT]
    next_position: Position | None

    def next_cursor(self, tenant_id: uuid.UUID) -> str | None:
        """The `next_cursor` of this page for `tenant_id`."""
        return next_cursor(tenant_id, self.next_position)


def next_cursor(tenant_id: uuid.UUID, position: Position | None) -> str | None:
    """The cursor of the page starting after `position`; None when there is none."""
    return encode_cursor(tenant_id, position) if position is not None else None


def keyset_page(
    rows: Sequence[RowT], size: int, position_of: Callable[[RowT], Position]
) -> KeysetPage[RowT]:
    """The page in `rows`, read newest first with one row more than `size`: that
    extra row is not shown, it only says that another page follows, starting right
    after the page's last row."""
    items = rows[:size]
    more = len(rows) > size
    return KeysetPage(items, position_of(items[-1]) if more else None)


class CursorPage(BaseModel, Generic[ItemT]):
    """The list contract's answer; a list declares its own subclass
    (`class WidgetPage(CursorPage[WidgetRead])`, adding `total: int` only where it
    costs O(1)), so the OpenAPI document names it."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass it as `cursor` for the next page: the same cost however deep, "
        "and nothing skipped or repeated while rows are added or deleted. Null on the "
        "last page."
    )
