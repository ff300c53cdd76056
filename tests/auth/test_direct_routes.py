"""DirectRoute answers exactly as FastAPI's own route class would for the same endpoint,
and refuses, at start-up, an endpoint it cannot call that way."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel

from relay.auth.dependencies import CurrentPrincipal, get_principal
from relay.auth.direct_routes import DirectRoute
from relay.auth.scopes import DATASETS_READ, requires
from relay.datasets.router import list_datasets
from relay.datasets.schemas import DatasetPage
from relay.db import Database
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
    """The same endpoint on FastAPI's own route class, authenticated as the API
    router authenticates its routes."""
    app.router.add_api_route(
        STANDARD,
        list_datasets,
        methods=["GET"],
        response_model=DatasetPage,
        dependencies=[Depends(get_principal), requires(DATASETS_READ)],
    )


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

    statuses = set()
    for headers, query in cases:
        query = query.format(cursor=first["next_cursor"])
        direct = await client.get(f"{DIRECT}?{query}", headers=headers)
        standard = await client.get(f"{STANDARD}?{query}", headers=headers)
        assert _answer(direct) == _answer(standard), (headers, query)
        statuses.add(direct.status_code)
    # Every way the route answers was compared.
    assert statuses == {200, 401, 403, 422}


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


@pytest.mark.parametrize(
    ("endpoint", "dependencies", "refusal"),
    [
        (_other_parameters, [requires(DATASETS_READ)], "takes exactly"),
        (_query_not_a_model, [requires(DATASETS_READ)], "pydantic model"),
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
