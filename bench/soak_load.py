"""The two load generators of bench/soak.py, counting into a Tally by minute of the run:
the stateful writer (a process of its own: datasets and keys made, changed, revoked, and
revoked keys presented again) and the reader of wrk's per-second lines (soak.lua)."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

REVOKED_PRESENTED_FOR = 15.0  # seconds
USES_BEFORE_REVOKE = 4  # enough for both workers to have the key cached, most times
# What each request of the wrk script must get, by the kind it names in X-Request-ID.
WRK_EXPECTED = {"good": 200, "madeup": 401, "malformed": 401, "missing": 401, "twokeys": 401}


@dataclass
class Tally:
    """What a generator saw, by minute of the run."""

    minutes: dict[int, Counter[str]] = field(default_factory=dict)  # minute -> class -> n
    operations: Counter[str] = field(default_factory=Counter)  # "operation status" -> n
    unexpected: Counter[str] = field(default_factory=Counter)  # what -> n
    examples: list[str] = field(default_factory=list)
    late_acceptances_ms: list[float] = field(default_factory=list)

    def count(self, minute: int, name: str, number: int = 1) -> None:
        self.minutes.setdefault(minute, Counter())[name] += number

    def add(self, other: Tally) -> None:
        for minute, counts in other.minutes.items():
            self.minutes.setdefault(minute, Counter()).update(counts)
        self.operations.update(other.operations)
        self.unexpected.update(other.unexpected)
        self.examples.extend(other.examples)
        self.late_acceptances_ms.extend(other.late_acceptances_ms)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


@dataclass
class Clock:
    """The run's start and length, shared by the generators: each counts a request in
    the minute it was sent (the last second's stragglers in the last minute)."""

    start: float  # time.time()
    minutes: int

    def minute(self, at: float) -> int:
        return min(max(int((at - self.start) // 60), 0), self.minutes - 1)

    @property
    def stop(self) -> float:
        return self.start + self.minutes * 60


# The stateful generator: a separate process, so that its event loop and the sampling
# never slow each other.


@dataclass
class Writer:
    """One loop of the stateful generator, with the datasets and keys it made (no other
    loop touches them, so every status it gets has one right answer)."""

    admin_key: str
    datasets: list[str] = field(default_factory=list)
    live_keys: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (id, uses)
    revoked: dict[str, float] = field(default_factory=dict)  # key -> monotonic time of 204


async def call(
    client: httpx.AsyncClient,
    tally: Tally,
    clock: Clock,
    operation: str,
    expected: int,
    request: tuple[str, str, str],
    body: dict[str, str] | None = None,
) -> httpx.Response | None:
    """One request (method, path, key), counted; None when no response came."""
    method, path, key = request
    minute = clock.minute(time.time())
    try:
        response = await client.request(method, path, headers={"X-API-Key": key}, json=body)
    except httpx.TransportError as error:
        tally.count(minute, "no response")
        tally.unexpected[f"{operation}: {type(error).__name__}"] += 1
        return None
    status = response.status_code
    tally.count(minute, status_class(status))
    tally.operations[f"{operation} {status}"] += 1
    if status != expected:
        tally.count(minute, "unexpected")
        tally.unexpected[f"{operation}: {status} (must be {expected})"] += 1
        if len(tally.examples) < 20:
            tally.examples.append(f"{operation}: {status} {response.text[:200]}")
    return response


async def present_revoked(
    client: httpx.AsyncClient, tally: Tally, clock: Clock, key: str, revoked_at: float
) -> None:
    sent = time.monotonic()
    response = await call(
        client, tally, clock, "read, revoked key", 401, ("GET", "/api/v1/datasets", key)
    )
    if response is not None and response.is_success:
        tally.late_acceptances_ms.append((sent - revoked_at) * 1000)


async def step(client: httpx.AsyncClient, writer: Writer, tally: Tally, clock: Clock) -> None:
    """One operation, chosen at random among those the writer's state allows."""
    now = time.monotonic()
    for key in [key for key, at in writer.revoked.items() if now - at > REVOKED_PRESENTED_FOR]:
        del writer.revoked[key]
    worn = [key for key, (_, uses) in writer.live_keys.items() if uses >= USES_BEFORE_REVOKE]
    weights = {
        "create dataset": 3,
        "update dataset": 3 if writer.datasets else 0,
        "delete dataset": (3 if len(writer.datasets) >= 10 else 1) if writer.datasets else 0,
        "create key": 1 if len(writer.live_keys) < 3 else 0,
        "read, new key": 4 if writer.live_keys else 0,
        "revoke key": 1 if worn else 0,
        "read, revoked key": 3 if writer.revoked else 0,
    }
    operation = random.choices(list(weights), list(weights.values()))[0]
    admin = writer.admin_key
    if operation == "create dataset":
        body = {"name": f"soak {random.getrandbits(32)}"}
        response = await call(
            client, tally, clock, operation, 201, ("POST", "/api/v1/datasets", admin), body
        )
        if response is not None and response.status_code == 201:
            writer.datasets.append(response.json()["id"])
    elif operation in ("update dataset", "delete dataset"):
        dataset_id = random.choice(writer.datasets)
        path = f"/api/v1/datasets/{dataset_id}"
        if operation == "update dataset":
            body = {"description": f"changed {random.getrandbits(32)}"}
            await call(client, tally, clock, operation, 200, ("PATCH", path, admin), body)
        else:
            writer.datasets.remove(dataset_id)
            await call(client, tally, clock, operation, 204, ("DELETE", path, admin))
    elif operation == "create key":
        response = await call(
            client, tally, clock, operation, 201, ("POST", "/api/v1/auth/api-keys", admin),
            {"name": "soak"},
        )  # fmt: skip
        if response is not None and response.status_code == 201:
            writer.live_keys[response.json()["key"]] = (response.json()["id"], 0)
    elif operation == "read, new key":
        key = random.choice(list(writer.live_keys))
        key_id, uses = writer.live_keys[key]
        writer.live_keys[key] = (key_id, uses + 1)
        await call(client, tally, clock, operation, 200, ("GET", "/api/v1/datasets", key))
    elif operation == "revoke key":
        key = random.choice(worn)
        key_id, _ = writer.live_keys.pop(key)
        path = f"/api/v1/auth/api-keys/{key_id}"
        response = await call(client, tally, clock, operation, 204, ("DELETE", path, admin))
        if response is not None and response.status_code == 204:
            writer.revoked[key] = time.monotonic()
            # At once: the tightest test of "refused from the very next request".
            await present_revoked(client, tally, clock, key, writer.revoked[key])
    else:
        key = random.choice(list(writer.revoked))
        await present_revoked(client, tally, clock, key, writer.revoked[key])


async def write_for(url: str, admin_keys: list[str], writers: int, clock: Clock) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=writers, max_keepalive_connections=writers)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def loop(writer: Writer) -> None:
            while time.time() < clock.stop:
                await step(client, writer, tally, clock)

        await asyncio.sleep(max(0.0, clock.start - time.time()))
        await asyncio.gather(
            *(loop(Writer(admin_keys[number % len(admin_keys)])) for number in range(writers))
        )
    return tally


def stateful_generator(
    url: str,
    admin_keys: list[str],
    writers: int,
    clock: Clock,
    results: multiprocessing.Queue[Tally | str],
) -> None:
    """The stateful generator's process: its tally, or why it failed, into `results`."""
    try:
        results.put(asyncio.run(write_for(url, admin_keys, writers, clock)))
    except BaseException as error:
        results.put(f"the stateful generator failed: {error!r}")
        raise


# wrk: its per-second lines (see soak.lua) folded into a tally.


def read_wrk(lines: Any, clock: Clock, tally: Tally, summary: dict[str, float]) -> None:
    """Count soak.lua's lines into `tally` and its last into `summary`; wrk's own report
    (latency, socket errors, in its words) is skipped."""
    for line in lines:
        tag, *fields = line.split() or [""]
        if tag == "soak-summary":
            summary.update((name, float(value)) for name, value in map(_pair, fields))
            continue
        if tag not in ("soak", "soak-end") or not fields:
            continue
        minute = clock.minute(int(fields[0]) + 0.5)
        for name, count in map(_pair, fields[1:]):
            kind, status = name.rsplit(":", 1)
            number = int(count)
            tally.count(minute, status_class(int(status)), number)
            tally.operations[f"wrk {kind} {status}"] += number
            expected = WRK_EXPECTED.get(kind)
            if int(status) != expected:
                tally.count(minute, "unexpected", number)
                tally.unexpected[f"wrk {kind}: {status} (must be {expected})"] += number


def _pair(text: str) -> tuple[str, str]:
    name, _, value = text.rpartition("=")
    return name, value
