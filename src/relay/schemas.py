"""Field types, the base class shared by several domains' API schemas, and the bodies
of error answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field

from relay.errors import ERROR_CODES
from relay.text import TextRule


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


def text_rules_missing(annotation: Any) -> list[str]:
    """Where `annotation` holds text without a TextRule: "str", "list[str]", ... (empty
    when every string in it has one). Walks unions, lists, dicts and Annotated."""
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        if any(isinstance(item, TextRule) for item in metadata):
            return []
        return text_rules_missing(inner)
    if annotation is str:
        return ["str"]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # A nested model is checked when it is defined, if it is an Input.
        return [] if issubclass(annotation, Input) else [annotation.__name__]
    return [found for arg in get_args(annotation) for found in text_rules_missing(arg)]


class Input(BaseModel):
    """The base of every model Relay reads from outside (a body, a query string, a
    leak report): each text field must say how it is accepted, with StoredText or
    TransientText (relay.text). A field of bare `str` fails when the class is defined,
    so no request model can let text through unchecked."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, field in cls.model_fields.items():
            if any(isinstance(item, TextRule) for item in field.metadata):
                continue
            missing = text_rules_missing(field.annotation)
            if missing:
                raise TypeError(
                    f"{cls.__name__}.{name}: {', '.join(missing)} without a TextRule; "
                    "declare it Annotated[str, StoredText.of(column)] or TransientText(...)"
                )


def _codes_of(statuses: range) -> str:
    return "; ".join(
        f"`{code}` ({known.status}): {known.meaning}"
        for code, known in ERROR_CODES.items()
        if known.status in statuses
    )


class ErrorDetail(BaseModel):
    """Every error Relay returns, but validation errors (ValidationErrorDetail), has
    this shape: `detail` for people, `code` for programs."""

    detail: str = Field(
        description='What went wrong, in words, a fixed English text per case ("Invalid '
        'or missing API key", "API key expired"). Show it; decide by `code`.',
        examples=["Invalid or missing API key"],
    )
    code: str = Field(
        description="Stable and machine-readable: decide by it, never by `detail`. New "
        "codes may be added, so treat an unknown one by its HTTP status. Known codes: "
        + _codes_of(range(400, 600)),
        examples=["invalid_api_key"],
    )


class ValidationIssue(BaseModel):
    """One problem with the input, in FastAPI's shape (never echoing the input)."""

    type: str = Field(description="Why, for programs: `missing`, `invalid_cursor`, ...")
    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then names.")
    msg: str = Field(description="Why, in words.")


class ValidationErrorDetail(BaseModel):
    """A 422: FastAPI's list of problems in `detail`, and the code every 422 has."""

    detail: list[ValidationIssue]
    code: Literal["validation_error"]
