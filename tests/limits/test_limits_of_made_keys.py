"""A rate-limited key cannot escape its limit through the keys it manages: a key it
makes inherits its limit or gets a stricter one, and it cannot lift, loosen, rotate or
revoke a key allowed more than itself (403), as it cannot for scopes or expiry."""

from __future__ import annotations

import httpx

from relay.db import Database
from tests.factories import TenantFixture, key_headers, make_api_key

KEYS = "/api/v1/auth/api-keys"
OUTRANKED = (
    "Insufficient permissions: a key cannot make or manage a key with a higher rate limit "
    "than its own (100 requests per 60 seconds)"
)


async def test_a_key_made_by_a_limited_key_inherits_its_limit_or_a_stricter_one(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, maker = await make_api_key(db, tenant_a, rate_limit=(100, 60))
    headers = key_headers(maker)
    inherited = await client.post(KEYS, json={"name": "no limit asked"}, headers=headers)
    assert inherited.status_code == 201
    assert inherited.json()["rate_limit"] == {"requests": 100, "per_seconds": 60}
    stricter = await client.post(
        KEYS, json={"name": "s", "rate_limit": {"requests": 10, "per_seconds": 60}}, headers=headers
    )
    assert stricter.status_code == 201
    assert stricter.json()["rate_limit"] == {"requests": 10, "per_seconds": 60}
    # More in some minute than the maker's 100: more at once, more per second (100 a
    # second is 6,000 a minute), or 60 per 40 s (two of those windows fit in a minute:
    # 120; a comparison of rates alone let it through).
    laxer_limits = [(1000, 60), (100, 1), (60, 40)]
    for requests, seconds in laxer_limits:
        laxer = {"requests": requests, "per_seconds": seconds}
        refused = await client.post(KEYS, json={"name": "l", "rate_limit": laxer}, headers=headers)
        assert (refused.status_code, refused.json()) == (
            403,
            {"detail": OUTRANKED, "code": "permission_denied"},
        ), laxer


async def test_a_limited_key_cannot_lift_or_loosen_a_limit(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    maker_id, maker = await make_api_key(db, tenant_a, rate_limit=(100, 60))
    headers = key_headers(maker)
    made = (await client.post(KEYS, json={"name": "made"}, headers=headers)).json()
    for key_id in (made["id"], maker_id):  # a key it made, and its own limit
        for patch in ({"rate_limit": None}, {"rate_limit": {"requests": 101, "per_seconds": 60}}):
            refused = await client.patch(f"{KEYS}/{key_id}", json=patch, headers=headers)
            assert (refused.status_code, refused.json()) == (
                403,
                {"detail": OUTRANKED, "code": "permission_denied"},
            )
        tighter = {"rate_limit": {"requests": 50, "per_seconds": 60}}
        assert (await client.patch(f"{KEYS}/{key_id}", json=tighter, headers=headers)).json()[
            "rate_limit"
        ] == tighter["rate_limit"]
    listed = (await client.get(KEYS, headers=tenant_a.headers)).json()
    assert {key["id"]: key.get("rate_limit") for key in listed}[made["id"]] == {
        "requests": 50,
        "per_seconds": 60,
    }


async def test_a_limited_key_cannot_rotate_or_revoke_a_key_allowed_more(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    _, maker = await make_api_key(db, tenant_a, rate_limit=(100, 60))
    headers = key_headers(maker)
    unlimited = str(tenant_a.key_id)
    rotated = await client.post(f"{KEYS}/{unlimited}/rotate", json={}, headers=headers)
    assert (rotated.status_code, rotated.json()) == (
        403,
        {"detail": OUTRANKED, "code": "permission_denied"},
    )
    revoked = await client.delete(f"{KEYS}/{unlimited}", headers=headers)
    assert (revoked.status_code, revoked.json()) == (
        403,
        {"detail": OUTRANKED, "code": "permission_denied"},
    )
    assert (await client.get(KEYS, headers=tenant_a.headers)).status_code == 200  # still works
    # A key allowed no more than the maker may be rotated: its successor keeps its limit.
    made = (await client.post(KEYS, json={"name": "made"}, headers=headers)).json()
    successor = await client.post(f"{KEYS}/{made['id']}/rotate", json={}, headers=headers)
    assert successor.status_code == 201
    assert successor.json()["rate_limit"] == {"requests": 100, "per_seconds": 60}


async def test_users_and_unlimited_keys_set_any_limit(
    client: httpx.AsyncClient, db: Database, tenant_a: TenantFixture
) -> None:
    limited_id, _ = await make_api_key(db, tenant_a, rate_limit=(100, 60))
    lifted = await client.patch(
        f"{KEYS}/{limited_id}", json={"rate_limit": None}, headers=tenant_a.headers
    )
    assert lifted.status_code == 200, lifted.json()
    assert "rate_limit" not in lifted.json()  # no limit: the field is left out
    made = await client.post(KEYS, json={"name": "free"}, headers=tenant_a.headers)
    assert "rate_limit" not in made.json()
