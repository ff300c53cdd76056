"""Keys limited to chosen datasets (`dataset_ids`) and to addresses (`allowed_ips`):
what such a key lists, reads, changes and may not do, where it may be used from, and
the lineage rule (a key makes and manages only keys at least as limited)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from relay.auth.activity import KeyActivity
from relay.auth.models import ApiKeyAddressRefusal
from relay.db import Database, utcnow
from tests.conftest import asgi_client
from tests.factories import TenantFixture, make_dataset

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
LIMITED = {
    "detail": "Insufficient permissions: key is limited to specific datasets",
    "code": "insufficient_scope",
}
NOT_HERE = {"detail": "API key not allowed from this address", "code": "address_not_allowed"}


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    return await client.post(KEYS, json={"name": "Limited"} | fields, headers=headers)


async def limited_key(
    client: httpx.AsyncClient, tenant: TenantFixture, **fields: Any
) -> dict[str, Any]:
    created = await create_key(client, tenant.headers, **fields)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_key_limited_to_datasets_reaches_those_alone(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    chosen = await make_dataset(db, tenant_a, name="Chosen")
    other = await make_dataset(db, tenant_a, name="Other")
    key = await limited_key(client, tenant_a, dataset_ids=[str(chosen.id)])
    assert key["dataset_ids"] == [str(chosen.id)]
    headers = {"X-API-Key": key["key"]}

    listed = (await client.get(DATASETS, headers=headers)).json()
    assert [item["name"] for item in listed["items"]] == ["Chosen"]
    assert listed["total"] == 1
    assert (await client.get(f"{DATASETS}/{chosen.id}", headers=headers)).status_code == 200
    missing = await client.get(f"{DATASETS}/{uuid.uuid4()}", headers=headers)
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        answer = await client.request(method, f"{DATASETS}/{other.id}", json=body, headers=headers)
        # As if it did not exist: the same answer as a dataset that does not.
        assert (answer.status_code, answer.json()) == (404, missing.json())
    refused = await client.post(DATASETS, json={"name": "New"}, headers=headers)
    assert (refused.status_code, refused.json()) == (403, LIMITED)
    renamed = await client.patch(
        f"{DATASETS}/{chosen.id}", json={"name": "Renamed"}, headers=headers
    )
    assert renamed.json()["name"] == "Renamed"


async def test_a_deleted_dataset_drops_out_of_the_keys_list(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    first = await make_dataset(db, tenant_a, name="First")
    second = await make_dataset(db, tenant_a, name="Second")
    third = await make_dataset(db, tenant_a, name="Third")
    await make_dataset(db, tenant_a, name="Not chosen")
    key = await limited_key(
        client, tenant_a, dataset_ids=[str(first.id), str(second.id), str(third.id)]
    )
    headers = {"X-API-Key": key["key"]}
    page = (await client.get(f"{DATASETS}?page_size=2", headers=headers)).json()
    assert ([i["name"] for i in page["items"]], page["total"]) == (["Third", "Second"], 3)
    following = await client.get(
        f"{DATASETS}?page_size=2&cursor={page['next_cursor']}", headers=headers
    )
    assert [i["name"] for i in following.json()["items"]] == ["First"]
    await client.delete(f"{DATASETS}/{second.id}", headers=tenant_a.headers)
    after = (await client.get(DATASETS, headers=headers)).json()
    assert ([i["name"] for i in after["items"]], after["total"]) == (["Third", "First"], 2)
    by_number = (await client.get(f"{DATASETS}?page_size=1&page=2", headers=headers)).json()
    assert ([i["name"] for i in by_number["items"]], by_number["total"]) == (["First"], 2)
    # Past the last page: no rows, the total all the same.
    beyond = (await client.get(f"{DATASETS}?page_size=2&page=5", headers=headers)).json()
    assert (beyond["items"], beyond["total"]) == ([], 2)


async def test_datasets_a_key_is_limited_to_must_be_the_tenants(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await make_dataset(db, tenant_b)
    for ids in ([str(theirs.id)], [str(uuid.uuid4())]):
        refused = await create_key(client, tenant_a.headers, dataset_ids=ids)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "dataset_ids"]
    assert (await create_key(client, tenant_a.headers, dataset_ids=[])).status_code == 422


async def test_a_limited_key_makes_only_keys_as_limited(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    chosen = await make_dataset(db, tenant_a, name="Chosen")
    other = await make_dataset(db, tenant_a, name="Other")
    maker = await limited_key(
        client,
        tenant_a,
        scopes=["api_keys:write", "datasets:read"],
        dataset_ids=[str(chosen.id)],
        allowed_ips=["127.0.0.0/8"],
    )
    headers = {"X-API-Key": maker["key"]}
    broader = await create_key(
        client, headers, scopes=["datasets:read"], dataset_ids=[str(chosen.id), str(other.id)]
    )
    assert broader.status_code == 403
    wider = await create_key(client, headers, scopes=["datasets:read"], allowed_ips=["0.0.0.0/0"])
    assert wider.status_code == 403
    inherited = await create_key(client, headers, scopes=["datasets:read"])
    assert inherited.status_code == 201
    assert inherited.json()["dataset_ids"] == [str(chosen.id)]
    assert inherited.json()["allowed_ips"] == ["127.0.0.0/8"]
    narrower = await create_key(
        client, headers, scopes=["datasets:read"], allowed_ips=["127.0.0.1"]
    )
    assert narrower.json()["allowed_ips"] == ["127.0.0.1/32"]
    freed = await client.patch(
        f"{KEYS}/{inherited.json()['id']}", json={"dataset_ids": None}, headers=headers
    )
    assert freed.status_code == 403
    # Nor may it manage a key broader than itself, a full-access one least of all.
    assert (await client.delete(f"{KEYS}/{tenant_a.key_id}", headers=headers)).status_code == 403


async def test_a_key_limited_to_addresses_is_refused_elsewhere_counted_and_audited_once(
    app: FastAPI, db: Database, tenant_a: TenantFixture
) -> None:
    async with (
        asgi_client(app, "203.0.113.9") as inside,
        asgi_client(app, "198.51.100.1") as outside,
    ):
        key = await limited_key(inside, tenant_a, allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
        assert key["allowed_ips"] == ["203.0.113.0/24", "2001:db8::/32"]
        headers = {"X-API-Key": key["key"]}
        assert (await inside.get(DATASETS, headers=headers)).status_code == 200
        for _ in range(3):
            refused = await outside.get(DATASETS, headers=headers)
            assert (refused.status_code, refused.json()) == (403, NOT_HERE)
        activity: KeyActivity = app.state.activity
        await activity.flush()
        usage = (
            await inside.get(f"{KEYS}/{key['id']}/usage?days=1", headers=tenant_a.headers)
        ).json()
        events = (await inside.get("/api/v1/audit-events", headers=tenant_a.headers)).json()
    assert usage["days"][-1]["by_status"] == {"2xx": 1, "3xx": 0, "4xx": 3, "5xx": 0}
    refusals = [e for e in events["items"] if e["action"] == "api_key.address_refused"]
    assert [(e["client_address"], e["target_id"]) for e in refusals] == [
        ("198.51.100.1", key["id"])
    ]
    new_addresses = [
        e["client_address"]
        for e in events["items"]
        if e["action"] == "api_key.new_client_address" and e["target_id"] == key["id"]
    ]
    assert new_addresses == ["203.0.113.9"]  # a refused address is no address it was used from


async def test_a_refusal_for_its_address_is_audited_once_a_minute_across_workers(
    app: FastAPI, settings: Any, db: Database, tenant_a: TenantFixture
) -> None:
    """Two workers (two apps on one database) each refuse the key from one address in
    the same minute: one audit event between them. Once the minute has passed (moved
    back in the database), the next refusal is audited again."""
    from relay.app import create_app

    other_worker = create_app(settings)
    async with (
        other_worker.router.lifespan_context(other_worker),
        asgi_client(app, "198.51.100.1") as first,
        asgi_client(other_worker, "198.51.100.1") as second,
    ):
        key = await limited_key(first, tenant_a, allowed_ips=["203.0.113.0/24"])
        headers = {"X-API-Key": key["key"]}

        async def refusal_events() -> list[dict[str, Any]]:
            events = await first.get(
                f"/api/v1/audit-events?action=api_key.address_refused&key_id={key['id']}",
                headers=tenant_a.headers,
            )
            items: list[dict[str, Any]] = events.json()["items"]
            return items

        for worker in (first, second):
            assert (await worker.get(DATASETS, headers=headers)).status_code == 403
        for application in (app, other_worker):
            await application.state.activity.flush()
        assert len(await refusal_events()) == 1
        async with db.sessionmaker.begin() as session:
            await session.execute(
                update(ApiKeyAddressRefusal).values(
                    noted_at=utcnow() - timedelta(minutes=2),
                    quiet_until=utcnow() - timedelta(minutes=1),
                )
            )
        # Each worker passes a pair on once a minute of its own clock: a third worker.
        third_worker = create_app(settings)
        async with (
            third_worker.router.lifespan_context(third_worker),
            asgi_client(third_worker, "198.51.100.1") as third,
        ):
            assert (await third.get(DATASETS, headers=headers)).status_code == 403
            await third_worker.state.activity.flush()
        events = await refusal_events()
    assert [event["client_address"] for event in events] == ["198.51.100.1"] * 2


async def test_the_address_is_the_one_a_trusted_proxy_forwards(
    settings: Any, db: Database, tenant_a: TenantFixture
) -> None:
    from relay.app import create_app

    app = create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}))
    async with app.router.lifespan_context(app), asgi_client(app, "10.0.0.2") as proxy:
        key = await limited_key(proxy, tenant_a, allowed_ips=["2001:db8::/32"])
        headers = {"X-API-Key": key["key"]}
        allowed = await proxy.get(DATASETS, headers=headers | {"X-Forwarded-For": "2001:db8::7"})
        assert allowed.status_code == 200
        refused = await proxy.get(DATASETS, headers=headers | {"X-Forwarded-For": "192.0.2.1"})
        assert refused.status_code == 403
        # The proxy's own address is not the client's.
        assert (await proxy.get(DATASETS, headers=headers)).status_code == 403


async def test_allowed_ips_must_be_addresses_or_networks(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for entries in (["nonsense"], ["203.0.113.5/24"], ["203.0.113.0/33"], []):
        refused = await create_key(client, tenant_a.headers, allowed_ips=entries)
        assert refused.status_code == 422, entries
    plain = (await create_key(client, tenant_a.headers)).json()
    assert "allowed_ips" not in plain  # a key without them has the guide's shape
    assert "dataset_ids" not in plain


# A maker with one limit of each kind, a key at least as limited and a broader one, and
# the refusal's detail: the lineage rule holds for rotation as for creation.
ROTATION_CASES = {
    "datasets": (
        lambda ids: {"dataset_ids": [ids["chosen"]]},
        lambda ids: {"dataset_ids": [ids["other"]]},
        "Insufficient permissions: a key limited to specific datasets cannot make or manage "
        "a key that reaches others",
    ),
    "addresses": (
        lambda ids: {"allowed_ips": ["127.0.0.0/8"]},
        lambda ids: {"allowed_ips": ["0.0.0.0/0"]},
        "Insufficient permissions: a key limited to some addresses cannot make or manage a "
        "key usable from others",
    ),
    "quota": (
        lambda ids: {"quota": {"requests": 100, "period": "day"}},
        lambda ids: {"quota": {"requests": 101, "period": "day"}},
        "Insufficient permissions: a key cannot make or manage a key with a larger quota "
        "than its own (100 requests per day)",
    ),
    "pool": (
        lambda ids: {"pool_id": ids["pool"]},
        lambda ids: {},
        "Insufficient permissions: a key in a limit pool cannot make or manage a key outside it",
    ),
}


@pytest.mark.parametrize("kind", sorted(ROTATION_CASES))
async def test_a_limited_key_rotates_only_keys_as_limited(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture, kind: str
) -> None:
    """A key limited to datasets, addresses, a quota or a pool rotates a key limited as
    it is (the successor keeps the limit), and is refused a broader one, which stays as
    it was: not rotated, no successor."""
    chosen = await make_dataset(db, tenant_a, name="Chosen")
    other = await make_dataset(db, tenant_a, name="Other")
    pool = await client.post(
        "/api/v1/limit-pools", json={"name": "Mobile app"}, headers=tenant_a.headers
    )
    ids = {"chosen": str(chosen.id), "other": str(other.id), "pool": pool.json()["id"]}
    limit, broader_limit, detail = ROTATION_CASES[kind]
    scopes = ["api_keys:read", "api_keys:write", "datasets:read"]
    maker = await limited_key(client, tenant_a, scopes=scopes, **limit(ids))
    within = await limited_key(client, tenant_a, scopes=["datasets:read"], **limit(ids))
    broader = await limited_key(client, tenant_a, scopes=["datasets:read"], **broader_limit(ids))
    headers = {"X-API-Key": maker["key"]}

    rotated = await client.post(f"{KEYS}/{within['id']}/rotate", json={}, headers=headers)
    assert rotated.status_code == 201, rotated.text
    for field in limit(ids):
        assert rotated.json()[field] == within[field]
    refused = await client.post(f"{KEYS}/{broader['id']}/rotate", json={}, headers=headers)
    assert (refused.status_code, refused.json()["detail"]) == (403, detail)
    kept = await client.get(f"{KEYS}/{broader['id']}", headers=tenant_a.headers)
    assert kept.json()["expires_at"] == broader["expires_at"]  # a rotation sets its end
    # Not being rotated: the owner may rotate it (409 for a key already being rotated).
    by_owner = await client.post(
        f"{KEYS}/{broader['id']}/rotate", json={}, headers=tenant_a.headers
    )
    assert by_owner.status_code == 201, by_owner.text
