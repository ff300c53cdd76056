"""The SDK retries what is safe to retry, against a real server behind a faulty link."""

from __future__ import annotations

import httpx
import pytest

from relay.sdk import NotFoundError, Relay, RelayAPIError, RelayConnectionError
from tests.live_server import LiveServer


class FaultyLink(httpx.HTTPTransport):
    """Forwards to the server, failing first as told.

    `refuse`: connections that cannot be made (nothing is sent). `lose`: answers
    lost after the server acted on the request. `unavailable`: 503s, as Relay
    answers while its database is down.
    """

    def __init__(self, *, refuse: int = 0, lose: int = 0, unavailable: int = 0) -> None:
        super().__init__()
        self.refuse, self.lose, self.unavailable = refuse, lose, unavailable
        self.delivered: list[str] = []  # methods of the requests the server acted on

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse:
            self.refuse -= 1
            raise httpx.ConnectError("connection refused", request=request)
        if self.unavailable:
            self.unavailable -= 1
            body = {"detail": "Service temporarily unavailable"}
            return httpx.Response(503, json=body, request=request)
        response = super().handle_request(request)
        self.delivered.append(request.method)
        if self.lose:
            self.lose -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


@pytest.fixture
def api_key(live_server: LiveServer) -> str:
    return live_server.create_tenant()["api_key"]


def client(live_server: LiveServer, api_key: str, link: FaultyLink | None = None) -> Relay:
    return Relay(api_key, base_url=live_server.base_url, backoff=0, transport=link)


def test_a_read_whose_answer_was_lost_is_sent_again(live_server, api_key):
    link = FaultyLink(lose=1)
    with client(live_server, api_key, link) as relay:
        assert relay.datasets.list()["total"] == 0
    assert link.delivered == ["GET", "GET"]


def test_a_create_whose_answer_was_lost_is_not_sent_again(live_server, api_key):
    link = FaultyLink(lose=1)
    with client(live_server, api_key, link) as relay, pytest.raises(RelayConnectionError):
        relay.datasets.create("Street scenes")
    assert link.delivered == ["POST"]
    with client(live_server, api_key) as relay:
        assert [d["name"] for d in relay.datasets.list()["items"]] == ["Street scenes"]


def test_a_create_that_could_not_connect_is_retried(live_server, api_key):
    link = FaultyLink(refuse=2)
    with client(live_server, api_key, link) as relay:
        relay.datasets.create("Street scenes")
        assert relay.datasets.list()["total"] == 1
    assert link.delivered == ["POST", "GET"]


def test_a_delete_whose_answer_was_lost_still_succeeds(live_server, api_key):
    with client(live_server, api_key) as relay:
        dataset = relay.datasets.create("Street scenes")
    link = FaultyLink(lose=1)
    with client(live_server, api_key, link) as relay:
        relay.datasets.delete(dataset["id"])  # the retry finds it gone: done
        assert link.delivered == ["DELETE", "DELETE"]
        with pytest.raises(NotFoundError):
            relay.datasets.get(dataset["id"])
        # A delete that was never ambiguous still reports what it found.
        with pytest.raises(NotFoundError):
            relay.datasets.delete(dataset["id"])


def test_a_read_is_retried_through_a_brief_outage_and_then_reported(live_server, api_key):
    with client(live_server, api_key, FaultyLink(unavailable=2)) as relay:
        assert relay.datasets.list()["total"] == 0
    with (
        client(live_server, api_key, FaultyLink(unavailable=3)) as relay,
        pytest.raises(RelayAPIError) as unavailable,
    ):
        relay.datasets.list()
    assert unavailable.value.status_code == 503
    assert unavailable.value.detail == "Service temporarily unavailable"


def test_a_write_is_not_retried_on_503(live_server, api_key):
    link = FaultyLink(unavailable=1)
    with client(live_server, api_key, link) as relay, pytest.raises(RelayAPIError) as refused:
        relay.datasets.create("Street scenes")
    assert refused.value.status_code == 503
    assert link.delivered == []


def test_no_answer_after_every_retry_is_a_connection_error(live_server, api_key):
    with (
        client(live_server, api_key, FaultyLink(refuse=3)) as relay,
        pytest.raises(RelayConnectionError, match="no answer from"),
    ):
        relay.datasets.list()
