"""Keys limited to chosen datasets and to addresses, against live servers: on
PostgreSQL a server with 4 workers and a second server, on SQLite one server (it
serves with one worker). Every worker answers as the key's limits say, a change to
them reaches every worker, and a refusal for the address is audited once between
them all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.config import Settings
from tests.conftest import emptied
from tests.factories import key_headers
from tests.live_server import LiveServer, run_server

KEYS = "/api/v1/auth/api-keys"
DATASETS = "/api/v1/datasets"
NOT_HERE = {"detail": "API key not allowed from this address", "code": "address_not_allowed"}
# Requests per look at the servers: each on a connection of its own, so the workers of a
# server all get some (the kernel hands connections out among them); fewer than a
# worker's cap on one address's connections still in their headers (20).
SPREAD = 16


@pytest.fixture
def servers(settings: Settings, tmp_path: Path) -> Iterator[list[LiveServer]]:
    """The servers; what they wrote is emptied once they stop (keys used lately would be
    warmed by the next test's workers)."""
    if settings.is_sqlite:
        with run_server(settings.database_url, tmp_path / "a.log") as only:
            yield [only]
    else:
        with (
            run_server(settings.database_url, tmp_path / "a.log", "--workers", "4") as first,
            run_server(settings.database_url, tmp_path / "b.log") as second,
        ):
            yield [first, second]
    asyncio.run(emptied(settings))


class Spread:
    """Requests with one key, SPREAD at a time, each on a fresh connection, round robin
    over the servers; every answer is kept (the key's usage must come to count them)."""

    def __init__(self, servers: list[LiveServer], key: str) -> None:
        self.servers, self.key = servers, key
        self.answers: list[httpx.Response] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> list[httpx.Response]:
        async def one(number: int) -> httpx.Response:
            base_url = self.servers[number % len(self.servers)].base_url
            async with httpx.AsyncClient(base_url=base_url) as http:
                return await http.request(
                    method, path, headers=key_headers(self.key), timeout=30, **kwargs
                )

        async def all_of_them() -> list[httpx.Response]:
            return list(await asyncio.gather(*(one(number) for number in range(SPREAD))))

        found = asyncio.run(all_of_them())
        self.answers += found
        return found

    def until_every_worker(self, holds: Callable[[httpx.Response], bool]) -> list[httpx.Response]:
        """The dataset list once `holds` of every answer of a spread (a change made
        through one worker reaches the others by notification), or the last spread
        after 10 s."""
        deadline = time.monotonic() + 10
        found = self("GET", DATASETS)
        while not all(map(holds, found)) and time.monotonic() < deadline:
            found = self("GET", DATASETS)
        return found


def names(answer: httpx.Response) -> list[str]:
    return [item["name"] for item in answer.json()["items"]]


def test_every_worker_keeps_a_key_to_its_datasets_and_addresses(
    servers: list[LiveServer],
) -> None:
    first = servers[0]
    owner = key_headers(first.create_tenant()["api_key"])
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        chosen, other = (
            http.post(DATASETS, json={"name": name}, headers=owner).json()
            for name in ("Chosen", "Other")
        )
        created = http.post(
            KEYS,
            json={"name": "Limited", "dataset_ids": [chosen["id"]], "allowed_ips": ["127.0.0.0/8"]},
            headers=owner,
        ).json()
        key = created["key"]

        send = Spread(servers, key)
        listed = send("GET", DATASETS)
        assert {(a.status_code, a.json()["total"], tuple(names(a))) for a in listed} == {
            (200, 1, ("Chosen",))
        }
        assert {a.status_code for a in send("GET", f"{DATASETS}/{other['id']}")} == {404}
        assert {a.status_code for a in send("POST", DATASETS, json={"name": "New"})} == {403}

        moved = http.patch(
            f"{KEYS}/{created['id']}", json={"dataset_ids": [other["id"]]}, headers=owner
        )
        assert moved.status_code == 200, moved.text
        listed = send.until_every_worker(lambda answer: names(answer) == ["Other"])
        assert {tuple(names(a)) for a in listed} == {("Other",)}

        fenced = http.patch(
            f"{KEYS}/{created['id']}", json={"allowed_ips": ["203.0.113.0/24"]}, headers=owner
        )
        assert fenced.status_code == 200, fenced.text
        refused = send.until_every_worker(lambda answer: answer.status_code == 403)
        assert [a.json() for a in refused] == [NOT_HERE] * SPREAD

        # Every worker has written what it refused once the key's usage counts every
        # 4xx it was answered (a flush writes a worker's usage and audit events together).
        refusals = sum(1 for answer in send.answers if 400 <= answer.status_code < 500)
        deadline = time.monotonic() + 10
        counted = 0
        while counted < refusals and time.monotonic() < deadline:
            usage = http.get(f"{KEYS}/{created['id']}/usage?days=1", headers=owner).json()
            counted = usage["days"][-1]["by_status"]["4xx"]
        assert counted == refusals
        events = http.get(
            f"/api/v1/audit-events?action=api_key.address_refused&key_id={created['id']}",
            headers=owner,
        ).json()["items"]
    assert [event["client_address"] for event in events] == ["127.0.0.1"]
