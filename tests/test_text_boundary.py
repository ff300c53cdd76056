"""One rule for text from outside (relay.text), by construction: every request model
and every text parameter of every route declares it, every text column refuses what
the database could not keep, and the rule normalises before it measures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy import JSON, String, func, select

from relay.app import create_app
from relay.config import Settings
from relay.datasets.models import Dataset
from relay.db import Base, Database, SessionDep, StoredJSON, StoredString
from relay.schemas import Input, text_rules_missing
from relay.tenants import service as tenants_service
from relay.text import StoredText, TransientText, UnstorableText
from tests.conftest import asgi_client
from tests.dashboard.helpers import post_form, sign_up, signup_fields
from tests.factories import TenantFixture


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _routes() -> Iterator[tuple[str, APIRoute]]:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.path or "", context.original_route


def _unruled_inputs() -> list[str]:
    """Every input of every route (body, query, path, header, cookie) that holds text
    without a TextRule, or a model that is not an Input."""
    found = []
    for path, route in _routes():
        for dependant in _dependants(route.dependant):
            params = (
                dependant.body_params
                + dependant.query_params
                + dependant.path_params
                + dependant.header_params
                + dependant.cookie_params
            )
            for param in params:
                info = param.field_info
                annotation: Any = info.annotation
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    if not issubclass(annotation, Input):
                        found.append(f"{path} {param.name}: {annotation.__name__} is no Input")
                    continue
                if any(isinstance(item, StoredText | TransientText) for item in info.metadata):
                    continue
                if text_rules_missing(annotation):
                    found.append(f"{path} {param.name}: {annotation}")
    return found


@pytest.mark.backend_independent
def test_every_route_input_that_holds_text_declares_its_rule() -> None:
    assert _unruled_inputs() == []


@pytest.mark.backend_independent
def test_a_request_model_cannot_declare_text_without_a_rule() -> None:
    with pytest.raises(TypeError, match="without a TextRule"):

        class Bare(Input):
            name: str

    with pytest.raises(TypeError, match="without a TextRule"):

        class Nested(Input):
            names: list[str] | None = None

    class Ruled(Input):
        names: list[Annotated[str, TransientText(max_length=5)]]

    assert Ruled(names=["a"]).names == ["a"]


@pytest.mark.backend_independent
def test_every_text_column_refuses_what_the_database_cannot_keep() -> None:
    loose = [
        f"{table.name}.{column.name}: {column.type!r}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String | JSON)
        and not isinstance(column.type, StoredString | StoredJSON)
    ]
    assert loose == []


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("a\x00b", "string_control_characters"),
        ("a\ud800b", "string_unstorable"),
        ("a\x1b[31mb", "string_control_characters"),
        ("a\u202eb", "string_control_characters"),
        ("invoice\u200f\u061cfdp.exe", "string_control_characters"),
        ("a\u0085b", "string_control_characters"),
        ("x" * 11, "string_too_long"),
        ("İ" * 6, "string_too_long"),  # 6 characters, 12 once lower-cased
        ("   ", "string_too_short"),
    ],
)
def test_the_rule_normalises_then_measures(value: str, kind: str) -> None:
    rule = StoredText(max_length=10, min_length=1, fold=str.lower)
    with pytest.raises(UnstorableText) as refused:
        rule.clean(value)
    assert refused.value.kind == kind


@pytest.mark.backend_independent
def test_the_rule_gives_text_as_it_is_kept() -> None:
    rule = StoredText(max_length=10, fold=str.lower)
    assert rule.clean("  Cafe\u0301 ") == "café"  # NFC: one character for "é"
    assert rule.clean("STRASSE") == "strasse"
    multiline = StoredText(max_length=10, single_line=False, strip=False)
    assert multiline.clean("a\tb\nc") == "a\tb\nc"


@pytest.mark.backend_independent
def test_an_email_that_grows_when_lower_cased_is_measured_after() -> None:
    with pytest.raises(Exception, match="Enter a valid email address"):
        tenants_service.clean_email("İ" * 300 + "@example.com")
    assert tenants_service.lookup_email("İ" * 300 + "@example.com") is None
    assert tenants_service.clean_email(" Ünïcode@Example.COM ") == "ünïcode@example.com"


@pytest.mark.parametrize(
    ("path", "status", "shape"),
    [("/api/v1/unchecked", 422, "application/json"), ("/unchecked", 400, "text/html")],
)
async def test_text_that_reaches_a_column_unchecked_is_refused_not_a_500(
    settings: Settings, db: Database, tenant_a: TenantFixture, path: str, status: int, shape: str
) -> None:
    """The columns' own guard, for a path that forgot its rule (a route added here
    writes a name too long for its column): a 422 in the validation shape for the API,
    the "Form refused" page for the dashboard; nothing is written either way."""
    app = create_app(settings)

    async def unchecked(session: SessionDep) -> None:
        session.add(Dataset(tenant_id=tenant_a.tenant_id, name="x" * 201))
        await session.flush()

    app.add_api_route(path, unchecked, methods=["POST"])
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        response = await client.post(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(shape)
    if status == 422:
        assert response.json()["detail"][0]["type"] == "string_too_long"
    else:
        assert "cannot be stored" in response.text
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Dataset)) == 0


async def test_an_address_that_grows_when_lower_cased_is_refused_at_sign_up_and_invitation(
    client: httpx.AsyncClient,
) -> None:
    """The review's 500 on PostgreSQL: measured before lower-casing, this address passed
    as 312 characters and reached its 320-character column as 612."""
    grown = "İ" * 300 + "@example.com"
    refused = await post_form(client, "/signup", "/signup", signup_fields(grown))
    assert refused.status_code == 400
    assert "Enter a valid email address" in refused.text
    await sign_up(client)
    invited = await post_form(client, "/settings/members", "/settings/members", {"email": grown})
    assert invited.status_code == 400
    assert "Enter a valid email address" in invited.text


async def test_every_value_of_a_repeated_form_field_is_checked(client: httpx.AsyncClient) -> None:
    """The form check read one value per field: a repeated field's first values were
    never looked at (the artifact rows of a dataset read them all)."""
    await sign_up(client)
    refused = await post_form(
        client, "/datasets/new", "/datasets", {"name": "Rows", "artifact_name": ["a\x00", "ok"]}
    )
    assert refused.status_code == 400
    assert "characters Relay cannot store" in refused.text
