"""PostgreSQL stops under load: Relay answers 503 (never 500), /healthz says so, it
recovers by itself once the database is back, and no answered write is lost or
half there. Stops this machine's cluster and always starts it again."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from relay.config import Settings
from tests.live_server import run_server

UNAVAILABLE = {"detail": "Service temporarily unavailable", "code": "service_unavailable"}


def cluster(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[-1].name
    fast = ["-m", "fast"] if action == "stop" else []
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *fast]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def wait_for_postgres(deadline_seconds: float = 30) -> None:
    deadline = time.monotonic() + deadline_seconds
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        time.sleep(0.2)


@pytest.mark.stops_database
async def test_outage_gives_503_then_recovers_without_losing_writes(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if settings.is_sqlite:
        pytest.skip("stops the PostgreSQL server; nothing to stop on SQLite")
    with (
        run_server(settings.database_url, tmp_path / "serve.log") as server,
        run_server(settings.database_url, tmp_path / "idle.log") as idle,
    ):
        key = server.create_tenant()["api_key"]
        headers = {"X-API-Key": key}
        acknowledged: set[str] = set()
        refused: set[str] = set()
        statuses: list[tuple[float, int, object]] = []
        phase = {"stopped_at": 0.0, "started_at": 0.0, "done": False}

        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            # A second server sits idle through the outage, its pool holding
            # connections that the restart kills.
            warm = await client.get(f"{idle.base_url}/api/v1/datasets", headers=headers)
            assert warm.status_code == 200

            async def load(worker: int) -> None:
                while not phase["done"]:
                    name = f"outage-{worker}-{uuid.uuid4().hex[:8]}"
                    write = await client.post(
                        "/api/v1/datasets", json={"name": name}, headers=headers
                    )
                    read = await client.get("/api/v1/datasets", headers=headers)
                    now = time.monotonic()
                    for response in (write, read):
                        statuses.append((now, response.status_code, response.json()))
                    (acknowledged if write.status_code == 201 else refused).add(name)

            tasks = [asyncio.create_task(load(number)) for number in range(4)]
            await asyncio.sleep(1)
            try:
                await asyncio.to_thread(cluster, "stop")
                phase["stopped_at"] = time.monotonic()
                await asyncio.sleep(2)
                health = await client.get("/healthz")
                assert health.status_code == 503
                assert health.json()["detail"] == UNAVAILABLE["detail"]
            finally:
                await asyncio.to_thread(cluster, "start")
                await asyncio.to_thread(wait_for_postgres)
                phase["started_at"] = time.monotonic()
            await asyncio.sleep(6)
            phase["done"] = True
            await asyncio.gather(*tasks)

            assert (await client.get("/healthz")).status_code == 200
            # Its first request after the restart must not fall on a dead connection.
            first = await client.get(f"{idle.base_url}/api/v1/datasets", headers=headers)
            assert first.status_code == 200
            stored = set()
            page = 1
            while True:
                listing = (
                    await client.get(f"/api/v1/datasets?page={page}&page_size=100", headers=headers)
                ).json()
                stored |= {item["name"] for item in listing["items"]}
                if page * 100 >= listing["total"]:
                    break
                page += 1

    codes = {code for _, code, _ in statuses}
    assert 500 not in codes
    assert codes <= {200, 201, 503}, codes
    assert all(body == UNAVAILABLE for _, code, body in statuses if code == 503)
    assert any(code == 503 for _, code, _ in statuses), "the outage was not observed"
    # Recovery: after the restart, everything answers 2xx within 5 seconds.
    late_failures = [t for t, code, _ in statuses if code == 503 and t > phase["started_at"] + 5]
    assert late_failures == []
    recovered = min(t for t, code, _ in statuses if code < 300 and t > phase["started_at"])
    unavailable = sum(code == 503 for _, code, _ in statuses)
    with capsys.disabled():
        print(
            f"\noutage: {len(statuses)} responses, {unavailable} were 503;"
            f" first 2xx {recovered - phase['started_at']:.2f} s after PostgreSQL was back;"
            f" {len(acknowledged)} acknowledged writes all present"
        )
    assert acknowledged <= stored, "an acknowledged write was lost"
    assert not (refused & stored), "a write answered with an error is there"
