"""Configuring a client: the key and the server from arguments or the environment, and a
bad key caught before any request is sent."""

from __future__ import annotations

import warnings

import httpx
import pytest

from relay.auth.keys import generate_key
from relay_sdk import AsyncRelay, Relay
from relay_sdk.client import ClientOptions
from tests.live_server import LiveServer
from tests.sdk.conftest import Connect

pytestmark = pytest.mark.backend_independent

CLIENTS = [Relay, AsyncRelay]


def refuse_every_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request should be sent, got {request.method} {request.url}")


async def test_client_reads_the_key_and_the_server_from_the_environment(
    connect: Connect, api_key: str, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", api_key)
    monkeypatch.setenv("RELAY_BASE_URL", live_server.base_url)
    relay = connect(None, base_url=None)
    assert (await relay.datasets.list()).total == 0


@pytest.mark.parametrize("client_class", CLIENTS)
def test_client_without_a_key_says_what_to_set(
    client_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"^RELAY_API_KEY environment variable not set$"):
        client_class()


@pytest.mark.parametrize("client_class", CLIENTS)
def test_base_url_defaults_to_the_local_server(
    client_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_BASE_URL", raising=False)
    assert client_class(generate_key()).base_url == "http://127.0.0.1:8000"


async def test_a_key_with_a_trailing_newline_is_stripped_with_a_warning(
    connect: Connect, api_key: str
) -> None:
    with pytest.warns(UserWarning, match="white space or a newline around it; it was stripped"):
        relay = connect(f"  {api_key}\n")
    assert (await relay.datasets.list()).total == 0


@pytest.mark.parametrize("client_class", CLIENTS)
def test_a_clean_key_gives_no_warning(client_class: type) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client_class(generate_key())


@pytest.mark.parametrize("client_class", CLIENTS)
def test_a_key_with_a_wrong_checksum_is_refused_before_any_request(client_class: type) -> None:
    key = generate_key()
    mistyped = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    transport = httpx.MockTransport(refuse_every_request)
    with pytest.raises(ValueError, match="fails its checksum") as refused:
        client_class(mistyped, transport=transport)
    assert key[12:] not in str(refused.value)


@pytest.mark.parametrize("not_a_key", ["sk_live_abc", "rl_live_short", "rl_live_" + "é" * 38])
@pytest.mark.parametrize("client_class", CLIENTS)
def test_something_that_is_not_a_relay_key_is_refused(client_class: type, not_a_key: str) -> None:
    with pytest.raises(ValueError, match="not a Relay key"):
        client_class(not_a_key)


def test_the_resolved_options_keep_the_key_out_of_repr() -> None:
    key = generate_key()
    options = ClientOptions.resolve(
        key, base_url=None, timeout=1.0, max_retries=0, backoff=0.0, max_retry_wait=0.0
    )
    assert options.api_key == key
    assert key not in repr(options)
