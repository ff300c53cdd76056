"""Inputs at the edges that were 500s, now each a clear 4xx: a datetime at the
calendar's limits with an offset, a non-ASCII digit in a page number, NUL in a form
field (PostgreSQL cannot store it), and validation errors capped at 20."""

from __future__ import annotations

import json

import httpx
import pytest

from relay.db import Database
from tests.dashboard.helpers import new_email, post_form, sign_up
from tests.factories import TenantFixture

KEYS = "/api/v1/auth/api-keys"


@pytest.mark.parametrize(
    "moment",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59.999999-23:59"],
)
async def test_datetimes_past_the_calendars_edge_are_422(
    client: httpx.AsyncClient, tenant_a: TenantFixture, moment: str
) -> None:
    created = await client.post(
        KEYS, json={"name": "x", "expires_at": moment}, headers=tenant_a.headers
    )
    assert created.status_code == 422
    assert "out of range" in created.json()["detail"][0]["msg"]
    listed = await client.get(
        "/api/v1/audit-events", params={"since": moment}, headers=tenant_a.headers
    )
    assert listed.status_code == 422


async def test_the_calendars_last_second_in_utc_is_accepted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    created = await client.post(
        KEYS, json={"name": "x", "expires_at": "9999-12-31T23:59:59Z"}, headers=tenant_a.headers
    )
    assert created.status_code == 201
    assert created.json()["expires_at"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("page", ["²", "٣", "-1", "1e3", "99999999999999999999", ""])
async def test_odd_page_numbers_show_the_first_page(client: httpx.AsyncClient, page: str) -> None:
    await sign_up(client)
    for path in ("/datasets", "/settings/audit-log"):
        assert (await client.get(path, params={"page": page})).status_code == 200, path


async def test_nul_in_any_form_field_is_refused_before_the_database(
    client: httpx.AsyncClient, db: Database
) -> None:
    for path, action, fields in (
        ("/login", "/login", {"email": "a\x00@example.com", "password": "x"}),
        (
            "/signup",
            "/signup",
            {"organisation": "A\x00", "email": new_email(), "password": "x" * 12},
        ),
    ):
        response = await post_form(client, path, action, fields)
        assert response.status_code == 400, path
        assert "cannot store" in response.text
    await sign_up(client)
    refused = await post_form(client, "/datasets/new", "/datasets", {"name": "Scenes\x00"})
    assert refused.status_code == 400
    assert "No datasets yet" in (await client.get("/datasets")).text


async def test_a_422_lists_at_most_twenty_errors_and_counts_the_rest(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    body = {"name": "x", "artifact_types": [{"name": f"BAD {number}!"} for number in range(40)]}
    response = await client.post("/api/v1/datasets", json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) == 21
    assert errors[-1] == {"type": "too_many_errors", "loc": ["body"], "msg": "and 20 more errors"}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            b'{"name": "x", ' + b", ".join(b'"f%d": 1' % n for n in range(60_000)) + b"}",
            "more than 20,000",
        ),
        (
            b'{"name": "x", ' + b", ".join(b'"f%d": 1' % n for n in range(150)) + b"}",
            "more than 100 fields",
        ),
        (b'{"name": "x", "artifact_types": [' + b"[[]]," * 100_000 + b"[]]}", "more than 20,000"),
        # An outside review: 240 integers of 4,299 digits took 35 ms a request to parse.
        (
            b'{"name": "x", "tags": [' + b",".join([b"9" * 4299] * 240) + b"]}",
            "more than 40 digits",
        ),
    ],
    ids=["60k-fields", "150-fields", "nested-lists", "long-integers"],
)
async def test_bodies_too_costly_to_validate_are_refused_before_parsing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: bytes, words: str
) -> None:
    response = await client.post(
        "/api/v1/datasets",
        content=body,
        headers=tenant_a.headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert words in json.dumps(response.json())
    assert len(response.content) < 500
