"""Text at the boundary: the one rule every string from outside goes through before
Relay keeps it, compares it with what it keeps, or acts on it.

A `TextRule` says how one kind of text is accepted, in this order:

1. refused if the database could not take it at all: NUL (PostgreSQL refuses it in
   any text) or a lone surrogate (no UTF-8 for it);
2. normalised: NFC, then the rule's own folding (`str.lower` for emails), then
   stripped;
3. refused if it holds control characters: C0 and C1 controls and DEL, and in a
   single-line text also tab, newlines and the bidirectional marks, overrides and
   isolates (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) that make a name
   read differently than it is;
4. measured, after normalising: "İ".lower() is two characters, so an address of
   300 of them is 600 long however short it was when typed.

`StoredText` is the rule of text that is stored: its length comes from the column
it goes to (`StoredText.of(User.email)`), so the two cannot disagree. `TransientText`
is the rule of text that only passes through (a cursor, a password, a code). Both
are pydantic annotations (`Annotated[str, StoredText.of(...)]`) and plain checks
(`rule.clean(value)`, for forms, the CLI and services), so API bodies, query
strings, forms, headers and leak reports meet the same rule. Every request model
derives from `relay.schemas.Input`, which refuses to define a text field without one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from sqlalchemy.orm import InstrumentedAttribute

# C0 controls but tab, newline and carriage return; DEL; C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same, plus tab and line breaks (Unicode's too) and the bidirectional marks,
# embeddings, overrides and isolates ("invoice\u200f\u061cfdp.exe" reads as
# "invoiceexe.pdf"): none belongs in a one-line name.
_LINE_CONTROLS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


class UnstorableText(ValueError):
    """Text a rule refuses; `kind` and `context` name the reason as pydantic would
    ("string_too_long", {"max_length": 320}), `str()` says it in words."""

    def __init__(self, kind: str, message: str, **context: Any) -> None:
        super().__init__(message.format(**context))
        self.kind = kind
        self.template = message
        self.context = context


def storable(text: str) -> bool:
    """False for text no database column can hold: NUL, or a lone surrogate."""
    try:
        check_storable(text)
    except UnstorableText:
        return False
    return True


def check_storable(text: str) -> None:
    """UnstorableText for NUL or a lone surrogate (the database's own limits)."""
    if "\x00" in text:
        raise UnstorableText(
            "string_control_characters", "String should not contain control characters"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnstorableText(
            "string_unstorable", "String should not contain lone surrogates"
        ) from None


def has_control_characters(text: str, *, single_line: bool = False) -> bool:
    return (_LINE_CONTROLS if single_line else _CONTROLS).search(text) is not None


@dataclass(frozen=True, slots=True)
class TextRule:
    """How one kind of text is accepted (see the module's docstring for the order)."""

    max_length: int
    min_length: int = 0
    strip: bool = True
    # False for text with lines of its own (a description).
    single_line: bool = True
    # Applied after NFC, before measuring: str.lower for emails.
    fold: Callable[[str], str] | None = None

    def clean(self, value: str) -> str:
        """`value` as it is kept; UnstorableText when the rule refuses it."""
        # Measured once before the work below, so a megabyte costs nothing to refuse;
        # NFC and lower() grow text by a few times at most.
        if len(value) > 4 * self.max_length + 64:
            raise self._too_long()
        check_storable(value)
        text = unicodedata.normalize("NFC", value)
        if self.fold is not None:
            text = unicodedata.normalize("NFC", self.fold(text))
        if self.strip:
            text = text.strip()
        if has_control_characters(text, single_line=self.single_line):
            raise UnstorableText(
                "string_control_characters", "String should not contain control characters"
            )
        if len(text) > self.max_length:
            raise self._too_long()
        if len(text) < self.min_length:
            raise UnstorableText(
                "string_too_short",
                "String should have at least {min_length} character"
                + ("s" if self.min_length != 1 else ""),
                min_length=self.min_length,
            )
        return text

    def _too_long(self) -> UnstorableText:
        return UnstorableText(
            "string_too_long",
            "String should have at most {max_length} characters",
            max_length=self.max_length,
        )

    # As a pydantic annotation: the check runs after pydantic's own str validation.
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["maxLength"] = self.max_length
        if self.min_length:
            json_schema["minLength"] = self.min_length
        return json_schema

    def _validate(self, value: str) -> str:
        try:
            return self.clean(value)
        except UnstorableText as refused:
            raise PydanticCustomError(refused.kind, refused.template, refused.context) from None


@dataclass(frozen=True, slots=True)
class StoredText(TextRule):
    """The rule of text that is stored: at most as long as its column."""

    @classmethod
    def of(cls, column: InstrumentedAttribute[Any], **options: Any) -> StoredText:
        """The rule for `column` (a model's attribute, e.g. `User.email`): its length
        is the column's, so a schema cannot promise more than the table keeps."""
        length = getattr(column.type, "length", None)
        if not isinstance(length, int):
            raise TypeError(f"{column} has no length: give StoredText(max_length=...)")
        return cls(max_length=length, **options)


@dataclass(frozen=True, slots=True)
class TransientText(TextRule):
    """The rule of text that is never stored as given (a cursor, a password, a code):
    still refused when the database could not take it, since it may be compared with
    what is stored."""

    strip: bool = False
