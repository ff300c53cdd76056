"""Each error status becomes its exception, carrying status, detail and request id.

Every status is answered the same way here, by an httpx MockTransport (a live server
gives a 500 or a 413 only in rare states); the live 403, 409 and 429 are in
test_api_keys, test_api_key_management and test_rate_limits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from relay_sdk import (
    APIStatusError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RelayError,
    ValidationError,
)
from tests.sdk.conftest import HOSTILE, SHOWN, Connect

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, APIStatusError),
        (413, APIStatusError),
    ],
)
async def test_each_error_status_raises_its_exception(
    connect: Connect, api_key: str, status: int, error_class: type[APIStatusError]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"X-Request-ID": "req-from-server"}
        return httpx.Response(status, json={"detail": "Nope"}, headers=headers)

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    with pytest.raises(RelayError) as raised:
        await relay.datasets.create("Street scenes")
    error = raised.value
    assert type(error) is error_class
    assert (error.status_code, error.detail, error.request_id) == (
        status,
        "Nope",
        "req-from-server",
    )
    assert str(error) == f"{status}: Nope"


async def test_retry_after_is_read_as_seconds_or_as_a_date(connect: Connect, api_key: str) -> None:
    answers = iter(["17", "Wed, 21 Oct 2015 07:28:00 GMT"])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"detail": "Slow down"}, headers={"Retry-After": next(answers)}
        )

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    for expected in (17.0, 0.0):  # a date in the past means "now"
        with pytest.raises(RateLimitError) as limited:
            await relay.datasets.list()
        assert limited.value.retry_after == expected


async def test_an_answer_that_is_not_json_keeps_its_text_as_detail(
    connect: Connect, api_key: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad Gateway")

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    with pytest.raises(APIStatusError) as raised:
        await relay.datasets.list()
    assert (raised.value.status_code, raised.value.detail) == (502, "Bad Gateway")
    assert raised.value.request_id  # the id the SDK sent, since the answer had none


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        (HOSTILE, f"422: {SHOWN}"),
        ([{"loc": ["body", "name"], "msg": HOSTILE, "type": "value_error"}], f"422: name: {SHOWN}"),
    ],
)
async def test_the_message_escapes_control_characters_and_detail_keeps_them(
    connect: Connect, api_key: str, detail: object, message: str
) -> None:
    """A message goes to terminals and logs: a server's detail is shown, never sent."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": detail})

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    with pytest.raises(ValidationError) as raised:
        await relay.datasets.list()
    assert raised.value.detail == detail
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (401, "api_key_expired", AuthenticationError),
        (403, "permission_denied", PermissionDeniedError),
        (409, "report_replayed", ConflictError),
        (429, "too_many_auth_failures", RateLimitError),
        # A status the SDK has no class for, with a code it has one for.
        (400, "validation_error", ValidationError),
        # A code the SDK does not know yet: the status decides.
        (404, "a_code_from_a_newer_server", NotFoundError),
    ],
)
async def test_the_exception_is_chosen_by_the_code_then_by_the_status(
    connect: Connect, api_key: str, status: int, code: str, error_class: type[APIStatusError]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"detail": "Whatever the words", "code": code})

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    with pytest.raises(APIStatusError) as raised:
        await relay.datasets.list()
    assert type(raised.value) is error_class
    assert (raised.value.code, raised.value.status_code) == (code, status)


@pytest.mark.parametrize(
    ("body", "expired"),
    [
        ({"detail": "Invalid or missing API key", "code": "api_key_expired"}, True),
        # The guide's words without the code: the SDK never reads the words.
        ({"detail": "API key expired"}, False),
        ({"detail": "API key expired", "code": "invalid_api_key"}, False),
    ],
)
async def test_expired_is_read_from_the_code_never_from_the_text(
    connect: Connect, api_key: str, body: dict[str, str], expired: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json=body)

    relay = connect(api_key, transport=httpx.MockTransport(answer), max_retries=0)
    with pytest.raises(AuthenticationError) as refused:
        await relay.datasets.list()
    assert refused.value.expired is expired


async def test_a_live_expired_key_is_an_authentication_error_with_its_code(
    connect: Connect, api_key: str
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    created = await connect(api_key).api_keys.create("Short-lived", expires_at=soon)
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.05)
    with pytest.raises(AuthenticationError) as refused:
        await connect(created.key, max_retries=0).datasets.list()
    assert (refused.value.code, refused.value.expired) == ("api_key_expired", True)
    assert refused.value.detail == "API key expired"
