"""Pieces the benchmark scripts share: a fresh PostgreSQL database, a server run in its
own process group, waiting for it, and wrk with its figures parsed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import asyncpg
import httpx

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[1]
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


async def recreate_database(name: str, admin_url: str = ADMIN_URL) -> str:
    """Drop and create database `name`; returns its URL."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(name: str, admin_url: str = ADMIN_URL) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def wait_until_up(client: httpx.AsyncClient) -> None:
    """Poll the client's server's /healthz until it answers 200 (60 s at most)."""
    async with asyncio.timeout(60):
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(fields: list[str]) -> float:
    """utime + stime of a /proc/<pid>/stat line split after the command's ") "."""
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_split(server_group: int) -> dict[str, float]:
    """CPU seconds used so far: by the whole machine, by one server's process group,
    by PostgreSQL's processes, and by this process's finished children (wrk).
    Differences of two readings tell how much of a run's CPU went elsewhere:
    to the other sessions sharing this machine."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    split = {"machine": (sum(ticks) - ticks[3] - ticks[4]) / _TICKS, "server": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, _, rest = (entry / "stat").read_text().partition(") ")
            fields = rest.split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == server_group:
            split["server"] += _cpu_seconds(fields)
        elif name.endswith("(postgres"):
            split["postgres"] += _cpu_seconds(fields)
    children = os.times()
    split["wrk"] = children.children_user + children.children_system
    return split


@contextmanager
def serving(
    command: list[str],
    url: str,
    headers: dict[str, str],
    env: dict[str, str],
    cwd: Path = ROOT,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group until `url` answers 200 with `headers`;
    stop the whole group afterwards (it may have forked workers). `stderr`: where its
    log goes (a file keeps it, to read what a failed run's server said)."""
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            try:
                if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    """One wrk run (one thread): req/s, p50 and p99 in ms, and non-2xx answers."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, env=env
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))

    def millis(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * _UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": millis(latency["50"]),
        "p99": millis(latency["99"]),
        "errors": float(bad.group(1)) if bad else 0.0,
        "socket_errors": float(sum(map(int, errors.groups()))) if errors else 0.0,
    }


def group_processes(group: int) -> dict[int, str]:
    """pid -> command line of every process in process group `group` (a server started
    by serving(): its supervisor and the workers it spawned)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().partition(") ")[2].split()
            if int(fields[2]) == group:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                )
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def process_status(pid: int) -> dict[str, float] | None:
    """A process's resident memory (bytes), open file descriptors, threads and CPU
    seconds, read from /proc (psutil is not installed); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().partition(") ")[2].split()
        descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
    return {
        "rss": int(rss.group(1)) * 1024 if rss else 0,
        "fds": descriptors,
        "threads": int(threads.group(1)) if threads else 0,
        "cpu": _cpu_seconds(fields),
    }
