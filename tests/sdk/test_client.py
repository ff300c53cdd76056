"""The Python SDK against a real server: keys and datasets, errors as exceptions."""

from __future__ import annotations

import pytest

from relay.sdk import AuthenticationError, NotFoundError, Relay, RelayAPIError
from tests.live_server import LiveServer


def test_client_reads_the_key_from_the_environment(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", live_server.create_tenant()["api_key"])
    monkeypatch.setenv("RELAY_BASE_URL", live_server.base_url)
    with Relay() as relay:
        assert relay.datasets.list()["total"] == 0


def test_client_without_a_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="RELAY_API_KEY environment variable not set"):
        Relay()


def test_key_lifecycle_through_the_sdk(live_server: LiveServer) -> None:
    with Relay(live_server.create_tenant()["api_key"], base_url=live_server.base_url) as relay:
        created = relay.api_keys.create("CI/CD Pipeline", expires_at="2031-01-01T00:00:00Z")
        assert created["key"].startswith("rl_live_")
        assert [k["name"] for k in relay.api_keys.list()] == ["CI/CD Pipeline", "Initial key"]

        with Relay(created["key"], base_url=live_server.base_url) as ci:
            assert ci.datasets.list()["total"] == 0
            relay.api_keys.revoke(created["id"])
            with pytest.raises(AuthenticationError) as refused:
                ci.datasets.list()
        assert refused.value.detail == "Invalid or missing API key"


def test_dataset_crud_through_the_sdk(live_server: LiveServer) -> None:
    with Relay(live_server.create_tenant()["api_key"], base_url=live_server.base_url) as relay:
        dataset = relay.datasets.create(
            "Street scenes", artifact_types=[{"name": "bounding_box", "color": "#3B82F6"}]
        )
        assert relay.datasets.get(dataset["id"])["name"] == "Street scenes"
        assert relay.datasets.update(dataset["id"], name="Renamed")["name"] == "Renamed"
        relay.datasets.delete(dataset["id"])
        with pytest.raises(NotFoundError):
            relay.datasets.get(dataset["id"])
        with pytest.raises(RelayAPIError) as invalid:
            relay.datasets.create("")
        assert invalid.value.status_code == 422
