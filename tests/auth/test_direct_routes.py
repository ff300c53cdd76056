"""DirectRoute answers exactly as FastAPI's own route class would for the same endpoint,
and refuses, at start-up, an endpoint it cannot call that way."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from relay.auth.dependencies import CurrentPrincipal, get_principal
from relay.auth.direct_routes import DirectRoute, check_direct_routes
from relay.auth.principal import Principal
from relay.auth.scopes import DATASETS_READ, requires
from relay.datasets.router import list_datasets
from relay.datasets.schemas import DatasetPage
from relay.db import Database
from relay.errors import AuthenticationError
from tests.factories import TenantFixture, key_headers, make_api_key, make_dataset

DIRECT = "/api/v1/datasets"
STANDARD = "/api/v1/standard/datasets"  # under /api/, so with the API's headers
QUERIES = [
    "",
    "page=2&page_size=1",
    "page_size=1&cursor={cursor}",
    "page=0",
    "page_size=abc&page=-1",
    "page=2&page=0",
    "cursor=not-a-cursor",
    "cursor=" + "x" * 101,
    "page=1&cursor={cursor}",
    "unknown=1&page_size=2",
]
# Refused keys count towards the address's failure limit (30 a minute): a few will do.
REFUSED_KEY_QUERIES = ["", "page=0", "cursor=not-a-cursor"]


def _with_standard_route(app: FastAPI) -> None:
    """The same endpoint on FastAPI's own route class, in a router authenticated as
    the API router is (app._api_router)."""
    standard = APIRouter(prefix=STANDARD, dependencies=[Depends(get_principal)])
    standard.add_api_route(
        "",
        list_datasets,
        methods=["GET"],
        response_model=DatasetPage,
        dependencies=[requires(DATASETS_READ)],
    )
    app.include_router(standard)


def _answer(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((name, value) for name, value in response.headers.items())
    return response.status_code, response.content, [h for h in headers if h[0] != "x-request-id"]


async def test_the_dataset_list_answers_as_fastapis_route_class_would(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _with_standard_route(app)
    for number in range(3):
        await make_dataset(db, tenant_a, name=f"Dataset {number}")
    first = (await client.get(f"{DIRECT}?page_size=1", headers=tenant_a.headers)).json()
    _, unscoped = await make_api_key(db, tenant_a, name="audit only", scopes=["audit:read"])
    _, read_only = await make_api_key(db, tenant_a, name="reader", scopes=["datasets:read"])
    cases = [(tenant_a.headers, query) for query in QUERIES]
    cases += [(key_headers(read_only), query) for query in QUERIES[:3]]
    cases += [(key_headers(unscoped), query) for query in REFUSED_KEY_QUERIES]
    cases += [({}, query) for query in REFUSED_KEY_QUERIES]
    wrong = tenant_a.key[:-1] + ("x" if tenant_a.key[-1] != "x" else "y")
    cases += [(key_headers(wrong), query) for query in REFUSED_KEY_QUERIES]
    # Two X-API-Key headers are refused, whichever is valid.
    cases += [([("X-API-Key", tenant_a.key), ("X-API-Key", tenant_a.key)], "")]

    statuses = set()
    for headers, query in cases:
        query = query.format(cursor=first["next_cursor"])
        direct = await client.get(f"{DIRECT}?{query}", headers=headers)
        standard = await client.get(f"{STANDARD}?{query}", headers=headers)
        assert _answer(direct) == _answer(standard), (headers, query)
        statuses.add(direct.status_code)
    # Every way the route answers was compared.
    assert statuses == {200, 401, 403, 422}


async def test_a_rate_limited_key_is_answered_as_fastapis_route_class_would(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _with_standard_route(app)
    answers = []
    for url in (DIRECT, STANDARD):
        # One key per route, so that each route's requests meet the same count.
        _, key = await make_api_key(db, tenant_a, rate_limit=(1, 3600))
        first, refused = [await client.get(url, headers=key_headers(key)) for _ in range(2)]
        answers.append(
            [
                (answer.status_code, answer.content, sorted(answer.headers.keys()))
                for answer in (first, refused)
            ]
        )
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [200, 429]


def test_the_dataset_list_runs_on_a_direct_route(app: FastAPI) -> None:
    routes = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if context.path == DIRECT and "GET" in (context.methods or ())
    ]
    assert len(routes) == 1
    assert isinstance(routes[0], DirectRoute)


def test_an_app_refuses_a_dependency_a_direct_route_would_not_run() -> None:
    async def another_check(request: Request) -> None:
        return None

    router = APIRouter()
    router.add_api_route(
        "/x",
        _three_parameters,
        dependencies=[requires(DATASETS_READ)],
        route_class_override=DirectRoute,
    )
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(get_principal)])
    check_direct_routes(app)
    app.include_router(router, prefix="/checked", dependencies=[Depends(another_check)])
    with pytest.raises(TypeError, match="would not run"):
        check_direct_routes(app)


async def test_dependency_overrides_reach_the_list(
    app: FastAPI, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    async def nobody(request: Request) -> Principal:
        raise AuthenticationError("overridden", reason="invalid")

    app.dependency_overrides[get_principal] = nobody
    try:
        refused = await client.get(DIRECT, headers=tenant_a.headers)
    finally:
        app.dependency_overrides.clear()
    assert (refused.status_code, refused.json()) == (
        401,
        {"detail": "overridden", "code": "invalid_api_key"},
    )


async def test_the_list_checks_key_then_scope_then_query(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, unscoped = await make_api_key(db, tenant_a, name="audit only", scopes=["audit:read"])
    bad_query = f"{DIRECT}?page=0"
    assert (await client.get(bad_query)).status_code == 401
    assert (await client.get(bad_query, headers=key_headers(unscoped))).status_code == 403
    assert (await client.get(bad_query, headers=tenant_a.headers)).status_code == 422


class _Query(BaseModel):
    page: int = 1


async def _three_parameters(
    request: Request, principal: CurrentPrincipal, query: Annotated[_Query, Query()]
) -> Response:
    return Response()


async def _other_parameters(request: Request, page: int = 1) -> Response:
    return Response()


async def _query_not_a_model(
    request: Request, principal: CurrentPrincipal, query: Annotated[int, Query()]
) -> Response:
    return Response()


def _not_async(
    request: Request, principal: CurrentPrincipal, query: Annotated[_Query, Query()]
) -> Response:
    return Response()


async def _principal_not_from_the_key(
    request: Request, principal: Principal, query: Annotated[_Query, Query()]
) -> Response:
    return Response()


async def _query_without_query(
    request: Request, principal: CurrentPrincipal, query: _Query
) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("endpoint", "dependencies", "refusal"),
    [
        (_other_parameters, [requires(DATASETS_READ)], "takes exactly"),
        (_not_async, [requires(DATASETS_READ)], "is async"),
        (_principal_not_from_the_key, [requires(DATASETS_READ)], "CurrentPrincipal"),
        (_query_not_a_model, [requires(DATASETS_READ)], r"Annotated\[Model, Query\(\)\]"),
        (_query_without_query, [requires(DATASETS_READ)], r"Annotated\[Model, Query\(\)\]"),
        (_three_parameters, [], "one requires"),
    ],
)
def test_a_direct_route_refuses_an_endpoint_it_cannot_call(
    endpoint: object, dependencies: list[object], refusal: str
) -> None:
    router = APIRouter()
    with pytest.raises(TypeError, match=refusal):
        router.add_api_route(
            "/x",
            endpoint,  # type: ignore[arg-type]
            dependencies=dependencies,  # type: ignore[arg-type]
            route_class_override=DirectRoute,
        )
    router.add_api_route(
        "/x",
        _three_parameters,
        dependencies=[requires(DATASETS_READ)],
        route_class_override=DirectRoute,
    )
