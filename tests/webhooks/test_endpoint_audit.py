"""Who points the organisation's events where is never silent: adding, changing and
deleting a webhook endpoint are audited (its URL, events and state; never its secret)."""

from __future__ import annotations

import httpx

from tests.factories import TenantFixture
from tests.secret_detector import secret_shapes_in
from tests.webhooks.conftest import ENDPOINTS, register
from tests.webhooks.receiver import Receiver


async def test_an_endpoints_changes_are_audited(
    client: httpx.AsyncClient, tenant_a: TenantFixture, receiver: Receiver
) -> None:
    endpoint = await register(client, tenant_a.headers, receiver.url(), ["api_key.revoked"])
    path = f"{ENDPOINTS}/{endpoint['id']}"
    paused = await client.patch(path, json={"enabled": False}, headers=tenant_a.headers)
    assert paused.status_code == 200
    assert (await client.delete(path, headers=tenant_a.headers)).status_code == 204

    events = (await client.get("/api/v1/audit-events", headers=tenant_a.headers)).json()["items"]
    changes = [e for e in events if e["action"].startswith("webhook_endpoint.")]
    assert [e["action"] for e in reversed(changes)] == [
        "webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"
    ]  # fmt: skip
    assert all(e["target_id"] == endpoint["id"] for e in changes)
    assert changes[1]["details"] == {
        "url": receiver.url(), "events": ["api_key.revoked"], "enabled": False
    }  # fmt: skip
    assert changes[0]["actor"].startswith("api_key:")
    assert endpoint["secret"] not in str(events)
    assert secret_shapes_in(str(events)) == []
