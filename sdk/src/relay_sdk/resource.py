"""Resources: the sync and async method of each operation, from its one definition.

A resource module defines each endpoint once, as a function that builds an
Operation; `sync_call(build)` and `async_call(build)` turn that function into a
method of the sync or the async resource class with the same parameters, which
sends the operation through the client's transport (mypy checks both). For a
paginated list, `*_pages` makes the method that yields every item, page after
page, and `*_all` the one that returns them all in a list.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from relay_sdk.operations import Operation, Paginated
from relay_sdk.transport import AsyncTransport, SyncTransport

P = ParamSpec("P")
ResultT = TypeVar("ResultT")
ItemT = TypeVar("ItemT")
MethodT = TypeVar("MethodT", bound=Callable[..., Any])


class SyncResource:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport


class AsyncResource:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport


def _as_method_of(build: Callable[..., Any], method: MethodT) -> MethodT:
    """`method` documented as `build`, with `self` before build's parameters, for help()."""
    functools.update_wrapper(method, build)
    signature = inspect.signature(build)
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    return method


def sync_call(
    build: Callable[P, Operation[ResultT]],
) -> Callable[Concatenate[SyncResource, P], ResultT]:
    def method(self: SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> ResultT:
        return self._transport.send(build(*args, **kwargs))

    return _as_method_of(build, method)


def async_call(
    build: Callable[P, Operation[ResultT]],
) -> Callable[Concatenate[AsyncResource, P], Coroutine[Any, Any, ResultT]]:
    async def method(self: AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> ResultT:
        return await self._transport.send(build(*args, **kwargs))

    return _as_method_of(build, method)


def sync_pages(
    build: Callable[P, Operation[Paginated[ItemT]]],
) -> Callable[Concatenate[SyncResource, P], Iterator[ItemT]]:
    def method(self: SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[ItemT]:
        return self._transport.iterate(build(*args, **kwargs))

    return _as_method_of(build, method)


def async_pages(
    build: Callable[P, Operation[Paginated[ItemT]]],
) -> Callable[Concatenate[AsyncResource, P], AsyncIterator[ItemT]]:
    def method(self: AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[ItemT]:
        return self._transport.iterate(build(*args, **kwargs))

    return _as_method_of(build, method)


def sync_all(
    build: Callable[P, Operation[Paginated[ItemT]]],
) -> Callable[Concatenate[SyncResource, P], list[ItemT]]:
    def method(self: SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> list[ItemT]:
        return list(self._transport.iterate(build(*args, **kwargs)))

    return _as_method_of(build, method)


def async_all(
    build: Callable[P, Operation[Paginated[ItemT]]],
) -> Callable[Concatenate[AsyncResource, P], Coroutine[Any, Any, list[ItemT]]]:
    async def method(self: AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> list[ItemT]:
        return [item async for item in self._transport.iterate(build(*args, **kwargs))]

    return _as_method_of(build, method)
