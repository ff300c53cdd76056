"""relayctl's webhook commands against a real server that signs and sends, and a real
receiver: create (the secret printed once), list, get, update (URL, events, pause and
resume), deliveries, redeliver and delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from relay.config import Settings
from relay_sdk.webhooks import verify
from tests.factories import TenantFixture
from tests.live_server import LiveServer, run_server
from tests.sdk.conftest import relayctl, run_relayctl
from tests.webhooks.receiver import Received, Receiver, run_receiver

pytestmark = pytest.mark.backend_independent

MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def signing_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server that can seal signing secrets and send to the receiver on loopback (the
    session's shared server has no RELAY_SECRET_KEY, so it registers and sends nothing)."""
    env = {
        "RELAY_SECRET_KEY": "relayctl-webhook-tests-key-0123456789abcdef",
        "RELAY_WEBHOOK_ALLOW_PRIVATE": "true",
        "RELAY_WEBHOOK_POLL_INTERVAL": "0.1",
    }
    log_path = tmp_path_factory.mktemp("webhooks") / "relay-serve.log"
    with run_server(settings.database_url, log_path, env=env) as server:
        yield server


@pytest.fixture
def hooks_env(signing_server: LiveServer, tenant_a: TenantFixture) -> dict[str, str]:
    return {"RELAY_API_KEY": tenant_a.key, "RELAY_BASE_URL": signing_server.base_url}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with run_receiver() as running:
        yield running


async def create_endpoint(env: dict[str, str], url: str, *options: str) -> dict[str, Any]:
    made = await relayctl("webhooks", "create", "--url", url, *options, "--json", env=env)
    assert made.returncode == 0, made.stderr
    created: dict[str, Any] = json.loads(made.stdout)
    return created


async def deliveries_of(env: dict[str, str], endpoint_id: str) -> list[dict[str, Any]]:
    listed = await relayctl("webhooks", "deliveries", endpoint_id, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    deliveries: list[dict[str, Any]] = json.loads(listed.stdout)
    return deliveries


async def test_get_shows_one_endpoint_without_its_secret_and_a_missing_one_exits_with_4(
    hooks_env: dict[str, str], receiver: Receiver
) -> None:
    made = await create_endpoint(hooks_env, receiver.url(), "--event", "api_key.revoked")
    shown = await relayctl("webhooks", "get", made["id"], env=hooks_env)
    assert shown.returncode == 0, shown.stderr
    for value in (made["id"], receiver.url(), "api_key.revoked"):
        assert value in shown.stdout
    assert "whsec_" not in shown.stdout
    as_json = await relayctl("webhooks", "get", made["id"], "--json", env=hooks_env)
    assert json.loads(as_json.stdout) == {k: v for k, v in made.items() if k != "secret"}
    missing = await relayctl("webhooks", "get", MISSING_ID, env=hooks_env)
    assert missing.returncode == 4
    assert "404" in missing.stderr


async def test_update_changes_the_url_and_the_events_and_keeps_the_rest(
    hooks_env: dict[str, str], receiver: Receiver
) -> None:
    made = await create_endpoint(hooks_env, receiver.url())
    moved = receiver.url(path="/moved")
    changed = await relayctl(
        "webhooks", "update", made["id"], "--url", moved, "--event", "dataset.created",
        "--event", "dataset.deleted", "--json", env=hooks_env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    endpoint = json.loads(changed.stdout)
    assert (endpoint["url"], endpoint["events"], endpoint["enabled"]) == (
        moved, ["dataset.created", "dataset.deleted"], True
    )  # fmt: skip
    everything = await relayctl("webhooks", "update", made["id"], "--all-events", env=hooks_env)
    assert everything.returncode == 0, everything.stderr
    assert moved in everything.stdout
    shown = await relayctl("webhooks", "get", made["id"], "--json", env=hooks_env)
    assert json.loads(shown.stdout)["events"] == ["*"]

    # The server's refusal of an event type it does not know is a validation failure.
    refused = await relayctl(
        "webhooks", "update", made["id"], "--event", "dataset.exploded", env=hooks_env
    )
    assert refused.returncode == 5, refused.stderr


async def test_a_paused_endpoint_is_sent_nothing_and_gets_the_events_after_it_resumes(
    hooks_env: dict[str, str], receiver: Receiver
) -> None:
    made = await create_endpoint(hooks_env, receiver.url(), "--event", "dataset.created")
    paused = await relayctl("webhooks", "update", made["id"], "--pause", env=hooks_env)
    assert paused.returncode == 0, paused.stderr
    assert "paused" in paused.stdout
    assert (await relayctl("datasets", "create", "While paused", env=hooks_env)).returncode == 0
    # Deliveries are made in the transaction of the change: none for a paused endpoint.
    assert await deliveries_of(hooks_env, made["id"]) == []

    resumed = await relayctl("webhooks", "update", made["id"], "--resume", "--json", env=hooks_env)
    assert json.loads(resumed.stdout)["enabled"] is True
    assert (await relayctl("datasets", "create", "Resumed", env=hooks_env)).returncode == 0
    (arrived,) = await receiver.arrived(1)
    event = verify(arrived.body, arrived.headers["Relay-Signature"], made["secret"])
    assert (event["type"], event["data"]["target"]["name"]) == ("dataset.created", "Resumed")


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--pause", "--resume"],
        ["--event", "dataset.created", "--all-events"],
    ],
)
async def test_an_update_that_changes_nothing_or_contradicts_itself_is_a_usage_mistake(
    hooks_env: dict[str, str], arguments: list[str]
) -> None:
    # MISSING_ID: a request would exit with 4.
    refused = await relayctl("webhooks", "update", MISSING_ID, *arguments, env=hooks_env)
    assert refused.returncode == 2, refused.stderr


async def test_redeliver_sends_the_same_event_again_as_a_new_delivery(
    hooks_env: dict[str, str], receiver: Receiver
) -> None:
    made = await create_endpoint(hooks_env, receiver.url(), "--event", "dataset.created")
    assert (await relayctl("datasets", "create", "Street scenes", env=hooks_env)).returncode == 0
    (first,) = await receiver.arrived(1)
    (delivery,) = await deliveries_of(hooks_env, made["id"])
    assert delivery["event_id"] == first.headers["Relay-Event-Id"]

    again = await relayctl("webhooks", "redeliver", made["id"], delivery["id"], env=hooks_env)
    assert again.returncode == 0, again.stderr
    assert delivery["event_id"] in again.stdout
    assert "pending" in again.stdout
    _, resent = await receiver.arrived(2)
    assert resent.headers["Relay-Event-Id"] == delivery["event_id"]
    assert (
        verify(resent.body, resent.headers["Relay-Signature"], made["secret"])["id"]
        == (delivery["event_id"])
    )

    as_json = await relayctl(
        "webhooks", "redeliver", made["id"], delivery["id"], "--json", env=hooks_env
    )
    third = json.loads(as_json.stdout)
    assert third["id"] != delivery["id"]
    assert (third["event_id"], third["status"], third["attempts"]) == (
        delivery["event_id"], "pending", 0
    )  # fmt: skip
    await receiver.arrived(3)
    assert len(await deliveries_of(hooks_env, made["id"])) == 3

    missing = await relayctl("webhooks", "redeliver", made["id"], MISSING_ID, env=hooks_env)
    assert missing.returncode == 4


def test_relayctl_registers_lists_reads_deliveries_of_and_deletes_endpoints(
    signing_server: LiveServer, receiver: Receiver
) -> None:
    """create prints the secret once, list shows the endpoint without it, deliveries
    shows what was sent, delete removes it; --json for scripts."""
    cli_env = {
        "RELAY_API_KEY": signing_server.create_tenant()["api_key"],
        "RELAY_BASE_URL": signing_server.base_url,
    }
    shown = run_relayctl(
        "webhooks", "create", "--url", receiver.url(), "--event", "api_key.created", env=cli_env
    )
    assert shown.returncode == 0, shown.stderr
    assert "whsec_" in shown.stdout
    assert "shown this once" in shown.stderr
    made = run_relayctl(
        "webhooks", "create", "--url", receiver.url(path="/all"), "--json", env=cli_env
    )
    created = json.loads(made.stdout)
    assert created["events"] == ["*"]

    listed = run_relayctl("webhooks", "list", env=cli_env)
    assert created["id"] in listed.stdout
    assert "whsec_" not in listed.stdout
    listed_json = json.loads(run_relayctl("webhooks", "list", "--json", env=cli_env).stdout)
    assert listed_json[0]["id"] == created["id"]

    key = run_relayctl("keys", "create", "--name", "Hooked", "--json", env=cli_env)
    assert key.returncode == 0, key.stderr

    # Both endpoints get api_key.created; "*" may also get the key's first use from
    # a network (api_key.new_network), in whichever order.
    def created_to_all(received: list[Received]) -> list[Received]:
        return [i for i in received if i.path == "/all" and b'"api_key.created"' in i.body]

    (to_all,) = created_to_all(receiver.received_when(lambda got: bool(created_to_all(got))))
    event = verify(to_all.body, to_all.headers["Relay-Signature"], created["secret"])
    assert event["type"] == "api_key.created"

    deliveries = run_relayctl("webhooks", "deliveries", created["id"], "--json", env=cli_env)
    listed = json.loads(deliveries.stdout)
    assert event["id"] in [delivery["event_id"] for delivery in listed]
    table = run_relayctl("webhooks", "deliveries", created["id"], env=cli_env)
    assert "api_key.created" in table.stdout

    gone = run_relayctl("webhooks", "delete", created["id"], env=cli_env)
    assert gone.stdout.strip() == f"Webhook endpoint {created['id']} deleted."
    again = run_relayctl("webhooks", "delete", created["id"], env=cli_env)
    assert again.returncode != 0
    assert "404" in again.stderr
