"""What one API call is, apart from how it is sent: method, path, body, and how to read
the answer. Each resource module builds these once; the sync and the async transport
send them, so both flavours of the SDK share every endpoint's definition.
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import httpx

ResultT_co = TypeVar("ResultT_co", covariant=True)
ItemT_co = TypeVar("ItemT_co", covariant=True)

JSONObject = dict[str, Any]
QueryParams = Mapping[str, str | int]


@dataclass(frozen=True)
class Operation(Generic[ResultT_co]):
    """One request under /api/v1 and the function that turns its 2xx answer into a result."""

    method: str
    path: str
    parse: Callable[[httpx.Response], ResultT_co] = field(repr=False)
    params: QueryParams | None = None
    json: JSONObject | None = None


def no_content(_response: httpx.Response) -> None:
    """The result of an operation answered with 204 and no body."""


class Paginated(Protocol[ItemT_co]):
    """A page of a list: its items, and the operation that fetches the next page, if any.

    How the next page is found is the page's business (a page number today; a cursor
    or a Link header later), so iterating over every page works the same for all.
    """

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def next_page(self) -> Operation[Paginated[ItemT_co]] | None: ...


class NotGiven(enum.Enum):
    """A partial update's "leave this field as it is", distinct from None ("clear it")."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN


def given_fields(**fields: object) -> JSONObject:
    """The fields of a partial update that the caller gave."""
    return {name: value for name, value in fields.items() if value is not NOT_GIVEN}


def path_segment(value: str) -> str:
    """`value` escaped for a URL path, so an id can never reach another route ("../")."""
    return urllib.parse.quote(value, safe="")
