"""POST /api/v1/leaked-keys: a signed report revokes the live keys it names at once,
records where they were found, shows a notice in the dashboard, and answers the same
whatever the tokens were; anything unsigned or replayed is refused before any
database work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from relay.app import create_app
from relay.auth import keys
from relay.config import Settings
from relay.db import Database
from tests.auth.workers import first_refusal, ready
from tests.conftest import UNREACHABLE_DATABASE, asgi_client
from tests.dashboard.helpers import post_form, sign_up
from tests.factories import TenantFixture, key_headers, make_api_key
from tests.leaks.reporter import Reporter
from tests.redis_server import RedisServer
from tests.statements import count_statements

REPORTS = "/api/v1/leaked-keys"
DATASETS = "/api/v1/datasets"
INVALID = {"detail": "Invalid or missing API key", "code": "invalid_api_key"}


@pytest.fixture(scope="module")
def reporter() -> Reporter:
    return Reporter()


@pytest.fixture
async def trusting_app(
    settings: Settings, db: Database, reporter: Reporter
) -> AsyncIterator[FastAPI]:
    """An app that trusts the reporter (`db`: the standard clean-up runs after)."""
    app = create_app(settings.model_copy(update={"leak_reporter_keys": reporter.setting}))
    async with app.router.lifespan_context(app):
        await ready(app)
        yield app


async def test_a_signed_report_revokes_the_key_at_once_and_says_where_it_was(
    trusting_app: FastAPI, db: Database, tenant_a: TenantFixture, reporter: Reporter
) -> None:
    key_id, key = await make_api_key(db, tenant_a, name="Deploy bot")
    async with asgi_client(trusting_app) as client:
        assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200  # cached
        body, headers = reporter.report(key, url="https://github.com/acme/app/blob/main/.env")
        response = await client.post(REPORTS, content=body, headers=headers)
        assert (response.status_code, response.json()) == (202, {"received": 1})
        refused = await client.get(DATASETS, headers=key_headers(key))
        assert (refused.status_code, refused.json()) == (401, INVALID)
        events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()
    leaked = [event for event in events["items"] if event["action"] == "api_key.leaked"]
    assert len(leaked) == 1
    assert leaked[0]["target_id"] == str(key_id)
    assert leaked[0]["details"] == {
        "url": "https://github.com/acme/app/blob/main/.env",
        "source": "content",
    }
    assert leaked[0]["actor"] == "leak-report:scanner"
    assert key not in str(events)


async def test_the_answer_is_the_same_whatever_the_tokens_were(
    trusting_app: FastAPI, db: Database, tenant_a: TenantFixture, reporter: Reporter
) -> None:
    _, live = await make_api_key(db, tenant_a)
    answers = []
    async with asgi_client(trusting_app) as client:
        for token in (live, keys.generate_key(), "rl_live_" + "x" * 38, "ghp_not_ours"):
            body, headers = reporter.report(token)
            response = await client.post(REPORTS, content=body, headers=headers)
            answers.append((response.status_code, response.content))
    assert answers == [(202, b'{"received":1}')] * 4


@pytest.mark.parametrize(
    "forgery", ["no signature", "unknown reporter", "signature of another body", "garbage"]
)
async def test_unsigned_or_forged_reports_are_refused_without_database_work(
    trusting_app: FastAPI, db: Database, tenant_a: TenantFixture, reporter: Reporter, forgery: str
) -> None:
    _, key = await make_api_key(db, tenant_a)
    body, headers = reporter.report(key)
    if forgery == "no signature":
        del headers["X-Relay-Signature"]
    elif forgery == "unknown reporter":
        headers["X-Relay-Reporter-Key"] = "someone-else"
    elif forgery == "signature of another body":
        headers["X-Relay-Signature"] = reporter.sign(body + b" ")
    else:
        headers["X-Relay-Signature"] = "not base64 at all!"
    async with asgi_client(trusting_app) as client:
        with count_statements(trusting_app.state.db) as statements:
            response = await client.post(REPORTS, content=body, headers=headers)
        assert (response.status_code, response.json()) == (
            401, {"detail": "Invalid or missing signature", "code": "invalid_signature"}
        )  # fmt: skip
        assert statements == []
        assert (await client.get(DATASETS, headers=key_headers(key))).status_code == 200


async def test_a_replayed_report_is_refused_without_database_work(
    trusting_app: FastAPI, db: Database, tenant_a: TenantFixture, reporter: Reporter
) -> None:
    _, key = await make_api_key(db, tenant_a)
    body, headers = reporter.report(key, url="https://example.com/replayed")
    async with asgi_client(trusting_app) as client:
        assert (await client.post(REPORTS, content=body, headers=headers)).status_code == 202
        with count_statements(trusting_app.state.db) as statements:
            replay = await client.post(REPORTS, content=body, headers=headers)
    assert replay.status_code == 409
    assert statements == []


async def test_a_report_the_database_failed_to_take_may_be_sent_again(
    settings: Settings,
    trusting_app: FastAPI,
    db: Database,
    tenant_a: TenantFixture,
    reporter: Reporter,
    redis_server: RedisServer,
) -> None:
    """A review: the report was marked as received before its keys were revoked, so
    when the database failed (503) the reporter's retry got 409 and the leaked key
    kept answering. Two workers sharing one Redis: the first's database is down."""
    redis_server.flush()
    shared = {"leak_reporter_keys": reporter.setting, "redis_url": redis_server.url}
    broken = create_app(settings.model_copy(update=shared | UNREACHABLE_DATABASE))
    working = create_app(settings.model_copy(update=shared))
    _, key = await make_api_key(db, tenant_a)
    body, headers = reporter.report(key, url="https://example.com/retried")
    async with asgi_client(broken) as client:  # no lifespan: it would need the database
        assert (await client.post(REPORTS, content=body, headers=headers)).status_code == 503
    await broken.state.db.dispose()
    async with working.router.lifespan_context(working), asgi_client(working) as client:
        await ready(working)
        retry = await client.post(REPORTS, content=body, headers=headers)
        assert (retry.status_code, retry.json()) == (202, {"received": 1})
        refused = await client.get(DATASETS, headers=key_headers(key))
        assert (refused.status_code, refused.json()) == (401, INVALID)
        again = await client.post(REPORTS, content=body, headers=headers)
        assert again.status_code == 409  # taken now: a replay from here on


async def test_a_report_that_is_not_a_token_list_is_422(
    trusting_app: FastAPI, reporter: Reporter
) -> None:
    async with asgi_client(trusting_app) as client:
        for body in (b'{"token": "x"}', b"not json", b"[" + b"{}," * 1000 + b"{}]"):
            headers = {
                "X-Relay-Reporter-Key": reporter.key_id,
                "X-Relay-Signature": reporter.sign(body),
            }
            response = await client.post(REPORTS, content=body, headers=headers)
            assert response.status_code == 422, body
            assert isinstance(response.json()["detail"], list)


async def test_a_bad_entry_is_skipped_and_the_good_ones_still_revoke_their_keys(
    trusting_app: FastAPI, db: Database, tenant_a: TenantFixture, reporter: Reporter
) -> None:
    """The review's poisoned report: one URL with a NUL was a 500 on PostgreSQL, the
    whole report rolled back, and the leaked key kept working. Each entry stands alone
    now; one whose place is unreadable still revokes its key."""
    _, first = await make_api_key(db, tenant_a, name="First")
    _, second = await make_api_key(db, tenant_a, name="Second")
    _, third = await make_api_key(db, tenant_a, name="Third")
    entries = [
        {"token": first, "type": "relay_api_key", "url": "https://x/\u0000", "source": "x"},
        {"token": 1},
        "not an entry",
        {"token": second, "type": "t", "url": "https://e.com/" + "İ" * 3000, "source": "s"},
        {"token": "rl_live_\ud800", "type": "t", "url": "https://e.com", "source": "s"},
        {"token": third, "type": "relay_api_key", "url": "https://e.com/ok", "source": "content"},
    ]
    body, headers = reporter.report_entries(entries)
    async with asgi_client(trusting_app) as client:
        response = await client.post(REPORTS, content=body, headers=headers)
        assert (response.status_code, response.json()) == (202, {"received": 6})
        for key in (first, second, third):
            refused = await client.get(DATASETS, headers=key_headers(key))
            assert (refused.status_code, refused.json()) == (401, INVALID)
        events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()
    places = sorted(
        event["details"]["url"] for event in events["items"] if event["action"] == "api_key.leaked"
    )
    assert places == ["(unreadable in the report)"] * 2 + ["https://e.com/ok"]


async def test_reports_are_limited_per_address(trusting_app: FastAPI, reporter: Reporter) -> None:
    async with asgi_client(trusting_app, "203.0.113.44") as client:
        statuses = [
            (await client.post(REPORTS, content=b"[]", headers={})).status_code for _ in range(61)
        ]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429


async def test_the_dashboard_shows_where_the_key_leaked_until_dismissed(
    trusting_app: FastAPI, db: Database, reporter: Reporter
) -> None:
    async with asgi_client(trusting_app) as browser:
        await sign_up(browser)
        created = await post_form(
            browser,
            "/settings/api-keys",
            "/settings/api-keys",
            {"name": "CI", "expiration": "none"},
        )
        key = created.text.split('id="new-key-value">')[1].split("<")[0]
        body, headers = reporter.report(key, url="javascript:alert(1)")
        await browser.post(REPORTS, content=body, headers=headers)
        page = (await browser.get("/datasets")).text
        assert "API key CI (" in page
        assert "was found exposed and revoked" in page
        assert 'href="javascript:' not in page  # only web addresses become links
        notice_id = page.split('action="/settings/api-keys/leaks/')[1].split("/")[0]
        await post_form(browser, "/datasets", f"/settings/api-keys/leaks/{notice_id}/dismiss", {})
        assert "was found exposed" not in (await browser.get("/datasets")).text


async def test_every_worker_refuses_the_reported_key_on_the_next_request(
    trusting_app: FastAPI,
    second_worker: FastAPI,
    db: Database,
    tenant_a: TenantFixture,
    reporter: Reporter,
) -> None:
    _, key = await make_api_key(db, tenant_a)
    async with asgi_client(second_worker) as other, asgi_client(trusting_app) as client:
        assert (await other.get(DATASETS, headers=key_headers(key))).status_code == 200  # cached
        body, headers = reporter.report(key)
        assert (await client.post(REPORTS, content=body, headers=headers)).status_code == 202
        answer = await first_refusal(other, key)
    assert (answer.status_code, answer.json()) == (401, INVALID)


def test_a_bad_reporter_key_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not a base64 DER public key"):
        Settings(leak_reporter_keys="scanner:not-a-key")
    with pytest.raises(ValueError, match="key-id:base64-DER-public-key"):
        Settings(leak_reporter_keys="just-a-key")
