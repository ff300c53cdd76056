"""A dataset's change is audited as dataset.updated (so a webhook can announce it),
naming the fields sent, through the API and the dashboard alike."""

from __future__ import annotations

import httpx

from relay.db import Database
from tests.factories import TenantFixture, make_dataset


async def test_a_patch_is_audited_with_the_fields_it_sent(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    dataset = (await make_dataset(db, tenant_a)).id
    patched = await client.patch(
        f"/api/v1/datasets/{dataset}", json={"description": "Frames"}, headers=tenant_a.headers
    )
    assert patched.status_code == 200
    events = await client.get(
        "/api/v1/audit-events?action=dataset.updated", headers=tenant_a.headers
    )
    (event,) = events.json()["items"]
    assert event["target_id"] == str(dataset)
    assert event["details"] == {"fields": ["description"]}
    assert event["actor"].startswith("api_key:")
