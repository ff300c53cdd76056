"""`relayctl webhooks`: create prints the secret once, list shows the endpoint without
it, deliveries shows what was sent, delete removes it; --json for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from relay.config import Settings
from relay_sdk.webhooks import verify
from tests.live_server import run_server
from tests.sdk.conftest import run_relayctl
from tests.webhooks.conftest import SERVER_KEY
from tests.webhooks.receiver import Received, run_receiver


def test_relayctl_registers_lists_reads_deliveries_of_and_deletes_endpoints(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"RELAY_SECRET_KEY": SERVER_KEY, "RELAY_WEBHOOK_ALLOW_PRIVATE": "true"}
    with (
        run_receiver() as receiver,
        run_server(settings.database_url, tmp_path / "serve.log", env=env) as server,
    ):
        cli_env = {
            "RELAY_API_KEY": server.create_tenant()["api_key"],
            "RELAY_BASE_URL": server.base_url,
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
