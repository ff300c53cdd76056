"""DirectRoute: the route class of the busiest API reads, whose endpoint is called
without FastAPI's per-request dependency solving.

Such a route is declared like any other, and FastAPI documents it from its signature,
which must be exactly `async (request: Request, principal: CurrentPrincipal, query:
Annotated[SomeModel, Query()])` and declare one `requires()` scope (checked when the
route is built); nothing else may depend on it, where its router is included either
(checked by `check_direct_routes` when the app is built). Per request the class does
what FastAPI would do for that signature, with the same pieces and in the same order:
`get_principal` authenticates (401, 429), the route's declared scope is checked (403),
the query string is validated by the model (422 in FastAPI's shape), then the
endpoint runs. With dependency overrides set (tests), FastAPI's own handler answers.

Why: FastAPI solves an endpoint's dependencies afresh on every request (the key, the
scope and each query parameter, each with its own introspection), and on the dataset
list that was a fifth of the request. In-process on PostgreSQL, 10 datasets, 5
interleaved rounds of 2,000 requests: 430 µs of CPU per request before, 350 after.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_args, get_origin

from fastapi import FastAPI, Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ValidationError

from relay.auth.dependencies import get_principal
from relay.auth.scopes import RequiredScope

SIGNATURE = ("request", "principal", "query")


def _query_model(route: APIRoute) -> type[BaseModel]:
    """The model of the endpoint's `query` parameter; TypeError for an endpoint the
    route cannot call as FastAPI would."""
    endpoint = route.endpoint
    parameters = inspect.signature(endpoint, eval_str=True).parameters
    if tuple(parameters) != SIGNATURE or not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"a DirectRoute endpoint is async and takes exactly {SIGNATURE}")
    principal = [d for d in route.dependant.dependencies if d.name == "principal"]
    if [d.call for d in principal] != [get_principal]:
        raise TypeError(f"a DirectRoute endpoint's principal is a CurrentPrincipal: {endpoint}")
    annotation = parameters["query"].annotation
    model, *metadata = get_args(annotation) if get_origin(annotation) is Annotated else [annotation]
    if not (
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and any(isinstance(item, params.Query) for item in metadata)
    ):
        raise TypeError(f"a DirectRoute endpoint's query is Annotated[Model, Query()]: {endpoint}")
    return model


def _required_scope(route: APIRoute) -> RequiredScope:
    declared = [d.call for d in route.dependant.dependencies if isinstance(d.call, RequiredScope)]
    if len(declared) != 1:
        raise TypeError(f"a DirectRoute declares one requires() scope: {route.path}")
    return declared[0]


def check_direct_routes(app: FastAPI) -> None:
    """TypeError when a DirectRoute, as included in `app`, has a dependency it would not
    run: it runs `get_principal` and its scope and nothing else, so a dependency added
    where its router is included (another check for every API route, say) must not
    pass unseen. `create_app` calls it once the routers are in."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, DirectRoute):
            calls = [dependency.call for dependency in context.dependant.dependencies]
            unrun = [
                call
                for call in calls
                if call is not get_principal and not isinstance(call, RequiredScope)
            ]
            if unrun:
                raise TypeError(f"{context.path} is a DirectRoute, which would not run {unrun}")


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    """The query string as `model`, a repeated parameter counting by its last value
    (as FastAPI reads a single-valued one: the model's fields are scalars, a list
    field FastAPI would fill from every repeat); RequestValidationError otherwise."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as invalid:
        errors = invalid.errors(include_url=False)
        raise RequestValidationError(
            [error | {"loc": ("query", *error["loc"])} for error in errors]
        ) from None


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        query_model = _query_model(self)
        check_scope = _required_scope(self)
        # FastAPI's own handler, for an app whose dependencies are overridden (tests).
        standard_handler = super().get_route_handler()

        async def direct_handler(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await standard_handler(request)
            principal = await get_principal(request)
            await check_scope(request)
            query = parse_query(query_model, request)
            response: Response = await endpoint(request, principal, query)
            return response

        return direct_handler
