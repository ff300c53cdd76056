"""The dashboard under generated input: every page's query string and every form's
fields, signed in and with a valid CSRF token, against a real server on the suite's
database. Whatever the values (NUL, lone surrogates, other scripts' digits, huge
numbers, garbage ids), the answer is never a 5xx.

The review found three 500s of this class: a non-ASCII digit in `?page=`, a NUL in
the sign-in email (PostgreSQL), a datetime at the calendar's limits; the second
review a fourth: "İ" * 300 + "@example.com" as an invited address (600 characters
once lower-cased). Its values come from the shared hostile corpus (tests/fuzz/corpus.py);
tests/fuzz/test_dashboard_forms.py sends every value of it to every field in turn.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.config import Settings
from tests.dashboard.helpers import PASSWORD, csrf_of, new_email
from tests.fuzz.common import (
    LIVE_SERVER_PER_ROUTE,
    dashboard_routes,
    encoded,
    from_new_address,
)
from tests.fuzz.corpus import HOSTILE
from tests.live_server import LiveServer

# Field and parameter names the pages read, so that generated values reach code.
NAMES = [
    "page", "cursor", "revoke", "roll", "remove", "create", "delete", "action", "since",
    "name", "description", "email", "password", "organisation", "expiration", "expires_on",
    "access", "scope_datasets", "scope_api_keys", "scope_audit", "grace_period_seconds",
    "artifact_name", "artifact_description", "artifact_color",
    "current_password", "new_password", "code", "setup", "require_two_factor",
    "datasets", "dataset_id", "more_dataset_ids", "allowed_ips", "back",
    "max_lifetime_days", "expire_unused_after_days", "full_access_keys",
    "rate_limit_requests", "rate_limit_seconds", "quota_requests", "quota_period", "pool_id",
    "role", "member", "artifact_remove", "show", "url", "events", "enabled", "scopes", "notices",
]  # fmt: skip
# The shared hostile corpus (tests/fuzz/corpus.py), and the words the pages' choices use.
TRICKY = st.sampled_from(
    [*HOSTILE, "none", "custom", "restricted", "read", "write", "day", "month", "1000000001",
     "1.5", str(uuid.uuid4()), "owner", "admin", "all"]
)  # fmt: skip
VALUES = st.one_of(TRICKY, st.text(max_size=40), st.integers().map(str))
FIELDS = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), VALUES), max_size=6
)


@pytest.fixture(scope="module")
def owner(fuzzed_server: tuple[LiveServer, str]) -> httpx.Client:
    """A signed-in owner, with a key, a dataset, a limit pool and a pending invitation
    to aim at."""
    server, _ = fuzzed_server
    client = httpx.Client(base_url=server.base_url, timeout=10)
    token = csrf_of(client.get("/signup").text)
    client.post(
        "/signup",
        data={
            "csrf_token": token,
            "organisation": "Fuzz",
            "email": new_email(),
            "password": PASSWORD,
        },
    )
    return client


def ids_to_aim_at(client: httpx.Client) -> dict[str, list[str]]:
    token = csrf_of(client.get("/settings/api-keys").text)
    client.post("/settings/api-keys", data={"csrf_token": token, "name": "k", "expiration": "none"})
    key_ids = re.findall(
        r'href="/settings/api-keys/([0-9a-f-]{36})"', client.get("/settings/api-keys").text
    )
    dataset = client.post("/datasets", data={"csrf_token": token, "name": "Fuzzed"})
    pool = client.post("/settings/limit-pools", data={"csrf_token": token, "name": "Fuzzed"})
    pool_ids = re.findall(
        r'href="/settings/limit-pools/([0-9a-f-]{36})"', client.get("/settings/limit-pools").text
    )
    invite = client.post("/settings/members", data={"csrf_token": token, "email": new_email()})
    invitation = re.search(r"/invitations/([A-Za-z0-9_-]+)", invite.text)
    assert key_ids
    assert invitation
    assert dataset.status_code == 303
    assert pool.status_code == 303
    assert pool_ids
    garbage = ["not-a-uuid", "%00", "%ED%A0%80", str(uuid.uuid4())]
    return {
        "key_id": [key_ids[0], *garbage],
        "dataset_id": [dataset.headers["location"].rsplit("/", 1)[1], *garbage],
        "pool_id": [pool_ids[0], *garbage],
        "member_id": garbage,
        "invitation_id": garbage,
        "notice_id": garbage,
        "session_id": garbage,
        "endpoint_id": garbage,
        "delivery_id": garbage,
        "token": [invitation.group(1), "x" * 300, *garbage],
    }


def fuzz_route(
    client: httpx.Client, method: str, template: str, ids: dict[str, list[str]], token: str
) -> list[int]:
    """Many generated query strings (GET) or forms (POST) to one page; the statuses
    they got."""
    statuses: list[int] = []
    names = re.findall(r"{(\w+)}", template)
    assert all(name in ids for name in names), f"{template}: give the fuzzer ids for it"

    @given(
        fields=FIELDS,
        path_ids=st.fixed_dictionaries({name: st.sampled_from(ids[name]) for name in names}),
    )
    @LIVE_SERVER_PER_ROUTE
    def never_a_server_error(fields: list[tuple[str, str]], path_ids: dict[str, str]) -> None:
        path = template.format(**path_ids)
        headers = from_new_address()
        if method == "GET":
            response = client.get(f"{path}?{encoded(fields)}", headers=headers)
        else:
            body = encoded([("csrf_token", token), *fields])
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = client.request(method, path, content=body, headers=headers)
        assert response.status_code < 500, f"{method} {path}: {fields!r}"
        statuses.append(response.status_code)

    never_a_server_error()
    return statuses


def test_no_dashboard_input_is_a_server_error(settings: Settings, owner: httpx.Client) -> None:
    ids = ids_to_aim_at(owner)
    token = csrf_of(owner.get("/settings/api-keys").text)
    routes = dashboard_routes(settings)
    assert len(routes) >= 20
    for method, template in routes:
        statuses = fuzz_route(owner, method, template, ids, token)
        # The limits are lifted: a 429 would mean generated input stopped at a limit
        # (as it once did for sign-in, sign-up and the account forms), not in the code.
        assert 429 not in statuses, f"{method} {template}: {sorted(set(statuses))}"
