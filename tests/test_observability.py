"""Request ids and the one access line per request; the lines' format."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import httpx
import pytest
from prometheus_client import generate_latest

from relay.observability import JsonFormatter, TextFormatter, chosen_log_format
from tests.factories import TenantFixture


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "relay.access"]


async def test_request_id_is_returned_and_generated_when_absent(
    client: httpx.AsyncClient,
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    generated = (await client.get("/healthz")).headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "a b" * 100})
    assert unsafe.headers["X-Request-ID"] != "a b"
    assert len(unsafe.headers["X-Request-ID"]) == 32


async def test_access_line_names_the_route_tenant_and_key_prefix_not_the_key(
    client: httpx.AsyncClient, tenant_a: TenantFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.access")
    response = await client.get(
        f"/api/v1/datasets/{'0' * 8}-0000-4000-8000-{'0' * 12}",
        headers=tenant_a.headers | {"X-Request-ID": "req-1"},
    )
    assert response.status_code == 404
    (record,) = access_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-1"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/datasets/{dataset_id}"
    assert line["status"] == 404
    assert line["tenant_id"] == str(tenant_a.tenant_id)
    assert line["key_prefix"] == tenant_a.key[:12]
    assert line["duration_ms"] >= 0
    assert tenant_a.key not in caplog.text
    assert tenant_a.key[12:] not in json.dumps(line)


async def test_failed_authentication_is_logged_without_the_key(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.access")
    presented = "rl_live_" + "Z" * 38
    await client.get("/api/v1/datasets", headers={"X-API-Key": presented})
    (record,) = access_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert (line["status"], line["tenant_id"], line["key_prefix"]) == (401, None, None)
    assert presented not in caplog.text


def test_log_times_are_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "EST+05")  # POSIX form: needs no tz database
    time.tzset()
    try:
        record = logging.makeLogRecord({"msg": "hello", "created": 0.25, "msecs": 250.0})
        line = json.loads(JsonFormatter().format(record))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert line["time"] == "1970-01-01T00:00:00.250Z"


async def test_a_path_under_a_mount_is_logged_and_counted_by_the_mount(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An outside review: every path under /static or /docs/assets was logged as sent
    (a token in such a path included) and made new metric series, without a key."""
    caplog.set_level(logging.INFO, logger="relay.access")
    for probe in ("/static/probe-1", "/static/a/probe-2", "/docs/assets/probe-3"):
        await client.get(probe)
    routes = [record.__dict__["route"] for record in access_records(caplog)]
    assert routes == ["/static/{path}", "/static/{path}", "/docs/assets/{path}"]
    assert "probe" not in caplog.text
    assert "probe" not in generate_latest().decode()


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """A stream that is a terminal (a pseudo-terminal's end), as stderr is at a shell."""
    leader, follower = os.openpty()
    try:
        with open(follower, "w") as stream:
            yield stream
    finally:
        os.close(leader)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    ("setting", "on_a_terminal", "elsewhere"),
    [("auto", "text", "json"), ("json", "json", "json"), ("text", "text", "text")],
)
def test_log_lines_are_text_on_a_terminal_and_json_elsewhere_unless_set(
    setting: str, on_a_terminal: str, elsewhere: str, terminal: TextIO, tmp_path: Path
) -> None:
    with (tmp_path / "log").open("w") as file:
        assert (chosen_log_format(setting, terminal), chosen_log_format(setting, file)) == (
            on_a_terminal,
            elsewhere,
        )


@pytest.mark.backend_independent
def test_a_text_line_is_time_message_and_fields_with_controls_escaped() -> None:
    record = logging.makeLogRecord(
        {"msg": "request \x1b[2J\u202e", "levelno": logging.INFO, "levelname": "INFO",
         "created": time.time(), "route": "/api/v1/datasets", "status": 200,
         "tenant_id": None, "user_agent": "curl/8 (x)"}
    )  # fmt: skip
    line = TextFormatter().format(record)
    assert line[8:] == (
        ' request \\x1b[2J\\u202e route=/api/v1/datasets status=200 user_agent="curl/8 (x)"'
    )
    assert time.strptime(line[:8], "%H:%M:%S")
