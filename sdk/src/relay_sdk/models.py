"""Turning the API's JSON into the SDK's frozen dataclasses, and back for output.

Models are declared as plain dataclasses in their resource's module; their field
types drive the decoding: `datetime` fields become aware datetimes, `date` fields
dates, `tuple[X, ...]` fields read JSON arrays, nested dataclasses read objects,
`Mapping` fields keep JSON objects as they are, and fields the server sends that a
model does not declare are ignored, so an older SDK keeps working against a newer
server. A test compares every model with /openapi.json.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

import httpx

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

ModelT = TypeVar("ModelT", bound="DataclassInstance")

# Metadata of a model field that the SDK adds and the API does not send.
NOT_FROM_API: Mapping[str, bool] = types.MappingProxyType({"from_api": False})


def api_fields(model: type[DataclassInstance]) -> list[dataclasses.Field[Any]]:
    """The fields of `model` that the API sends."""
    return [field for field in dataclasses.fields(model) if field.metadata.get("from_api", True)]


@functools.cache
def field_types(model: type[DataclassInstance]) -> dict[str, Any]:
    """The resolved type of each field (annotations are strings under `from __future__`)."""
    return get_type_hints(model)


def from_json(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """An instance of `model` from a JSON object."""
    types_by_name = field_types(model)
    values = {
        field.name: _decode(types_by_name[field.name], data[field.name])
        for field in api_fields(model)
        if field.name in data
    }
    return model(**values)


def _decode(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        (not_none,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _decode(not_none, value)
    if origin is tuple:
        item_type = get_args(annotation)[0]
        return tuple(_decode(item_type, item) for item in value)
    if annotation is datetime:
        return parse_timestamp(value)
    if annotation is date:
        return date.fromisoformat(value)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return from_json(annotation, value)
    return value


def parse_timestamp(value: str) -> datetime:
    """An aware datetime from ISO 8601; Relay sends UTC ending in Z, and no offset means UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC ending in Z, as Relay writes it."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_aware_timestamp(value: datetime, name: str) -> str:
    """`value` as format_timestamp writes it; ValueError if it has no time zone, since
    a local time would be read as another moment on a server in another zone."""
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
    return format_timestamp(value)


def to_json(value: Any) -> Any:
    """A model (or a list of them) as JSON-ready data, in the API's own shape."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_json(getattr(value, field.name)) for field in api_fields(type(value))
        }
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def parse_model(model: type[ModelT]) -> Callable[[httpx.Response], ModelT]:
    """The parser of an answer whose body is one `model`."""
    return lambda response: from_json(model, response.json())
