"""Bounded JSON request bodies for the API: what a body may cost is decided before it
is parsed, so no request under the size limit can hold the worker for long.

The standard parser takes about 100 ms for a 0.5 MB body of nested empty lists, and
pydantic then builds one error per unknown field (90,000 fields: an 8 MB answer).
Before parsing, the structural characters of the raw body are counted (a C-speed
scan); while parsing, each object's keys are counted and each integer's digits (turning
digits into an int costs time that grows with the square of their number: 240 integers
of 4,299 digits took 35 ms). The limits sit far above any valid request (a dataset
with 50 artifact types is a few hundred values; no field takes an integer of 20 digits).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import HTTPException
from fastapi.routing import APIRoute

MAX_JSON_VALUES = 20_000
MAX_OBJECT_KEYS = 100
MAX_INTEGER_DIGITS = 40


def _too_complex(message: str) -> HTTPException:
    # 422 in FastAPI's validation shape, as every bad body is; an HTTPException
    # because FastAPI passes those through its body parsing unchanged.
    return HTTPException(
        status_code=422, detail=[{"type": "json_too_complex", "loc": ["body"], "msg": message}]
    )


def _bounded_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_OBJECT_KEYS:
        raise _too_complex(f"A JSON object in the body has more than {MAX_OBJECT_KEYS} fields")
    return dict(pairs)


def _bounded_integer(digits: str) -> int:
    if len(digits) > MAX_INTEGER_DIGITS:
        raise _too_complex(f"A number in the body has more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def parse_bounded_json(body: bytes) -> Any:
    """json.loads, refusing (422) a body with too many values, too wide an object or too
    long an integer."""
    values = body.count(b"[") + body.count(b"{") + body.count(b",")
    if values > MAX_JSON_VALUES:
        raise _too_complex(f"The body holds more than {MAX_JSON_VALUES:,} JSON values")
    return json.loads(body, object_pairs_hook=_bounded_object, parse_int=_bounded_integer)


class BoundedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_bounded_json(await self.body())
        return self._json


class BoundedJsonRoute(APIRoute):
    """The route class of every API router: its handler reads JSON through
    BoundedJsonRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded_handler(request: Request) -> Response:
            return await handler(BoundedJsonRequest(request.scope, request.receive))

        return bounded_handler
