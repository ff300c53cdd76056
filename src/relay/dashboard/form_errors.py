"""A form's validation failures as messages for people, keyed by the id of the field
each concerns (the page marks that field and lists the message in its error summary).

The API keeps pydantic's words; a person filling a form gets "Enter a name" or
"Choose a date after today", never "String should match pattern '^[a-z0-9_]{1,64}$'".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from relay.errors import RelayError


@dataclass(frozen=True)
class FormField:
    """How a page shows one input: its element id and label; what to say when it does
    not match its pattern or a rule of its own (keyed by pydantic's own message)."""

    id: str
    label: str
    # As in "Enter a name": what the person should give.
    noun: str = ""
    pattern_hint: str | None = None
    rewrites: tuple[tuple[str, str], ...] = ()


def _human(error: ErrorDetails, field: FormField) -> str:
    kind = error["type"]
    context: dict[str, Any] = error.get("ctx") or {}
    message = str(error["msg"]).removeprefix("Value error, ")
    for said, meant in field.rewrites:
        if said in message:
            return meant
    label = field.label
    if kind in ("missing", "string_too_short"):
        return f"Enter {field.noun or 'the ' + label.lower()}"
    if kind == "string_too_long":
        return f"{label} must be {context.get('max_length')} characters or fewer"
    if kind == "too_long":
        return f"{label}: at most {context.get('max_length')}"
    if kind == "string_pattern_mismatch":
        return field.pattern_hint or f"{label} is not in the expected form"
    if kind.startswith(("datetime", "date")):
        return f"{label}: enter a real date, for example 2030-03-31"
    if kind in ("literal_error", "enum"):
        return f"{label}: choose one of the options"
    return f"{label} {message}" if message[:1].islower() else message


def _field_of(loc: list[str], fields: dict[str, FormField]) -> tuple[str, str] | None:
    """The field (its key in `fields`) and location an error's `loc` falls under: the
    longest leading part of it that names a field, so that an error inside a field's
    value, or in one member of an optional field's union (pydantic adds the member's
    name: ("name", "function-after[...]")), is shown at that field."""
    while loc:
        location = ".".join(loc)
        pattern = re.sub(r"\.\d+(?=\.|$)", ".*", location)
        for key in (location, pattern):
            if key in fields:
                return key, location
        loc = loc[:-1]
    return None


def field_messages(exc: ValidationError, fields: dict[str, FormField]) -> dict[str, str]:
    """{element id: message}, in the order the form shows its fields. `fields` is keyed
    by pydantic's location ("name"), in page order; a row's fields by their pattern
    ("artifact_types.*.name", element id "artifact-name-*")."""
    order = list(fields)
    first_row_field = min((i for i, key in enumerate(order) if "*" in key), default=len(order))
    found: dict[str, tuple[tuple[int, int, int], str]] = {}
    for error in exc.errors(include_url=False):
        found_key = _field_of([str(part) for part in error["loc"]], fields)
        if found_key is None:
            continue
        key, location = found_key
        row = re.search(r"\.(\d+)(?=\.|$)", location)
        field, index = fields[key], order.index(key)
        number = int(row.group(1)) if row and "*" in key else 0
        element = field.id.replace("*", str(number))
        place = (first_row_field, number, index) if "*" in key else (index, 0, 0)
        found.setdefault(element, (place, _human(error, field)))
    return {
        element: message
        for element, (_, message) in sorted(found.items(), key=lambda item: item[1][0])
    }


def error_for(exc: RelayError, ids: dict[str, str], default: str) -> dict[str, str]:
    """A service's refusal as {element id: message}: at the field it names (mapped by
    `ids` from the service's name to the page's), else at the form's `default` field."""
    return {ids.get(exc.field or "", default): exc.detail}
