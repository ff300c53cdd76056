"""What bench/soak.py measures while it runs (memory, descriptors and threads of the
server's processes, CPU of everything) and the figures it prints at the end: requests per
minute, memory per process, a verdict per target."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchlib import cpu_split, group_processes, process_status
from soak_load import Clock, Tally

# See soak.py on why 10 MiB, and why after the first minute.
FLAT_MIB = 10.0
MIB = 1024 * 1024


class Sampler:
    """Names the server's processes (supervisor, worker 1, 2, ...: a worker started again
    gets the next number) and reads them, with the CPU split, at each sample."""

    def __init__(self, group: int, generators: dict[str, int], clock: Clock) -> None:
        self.group = group
        self.generators = generators
        self.clock = clock
        self.names: dict[int, str] = {}
        self.samples: list[dict[str, Any]] = []

    def _name(self, pid: int, command: str) -> str | None:
        if pid not in self.names:
            if pid == self.group:
                self.names[pid] = "supervisor"
            elif "spawn_main" in command:
                workers = sum(name.startswith("worker") for name in self.names.values())
                self.names[pid] = f"worker {workers + 1}"
            elif "resource_tracker" in command:
                self.names[pid] = "resource tracker"
            else:
                return None
        return self.names[pid]

    def sample(self) -> None:
        processes = {}
        for pid, command in sorted(group_processes(self.group).items()):
            name = self._name(pid, command)
            status = process_status(pid)
            if name is not None and status is not None:
                processes[name] = status | {"pid": pid}
        cpu = cpu_split(self.group)
        for name, pid in self.generators.items():
            status = process_status(pid)
            cpu[name] = status["cpu"] if status else 0.0
        self.samples.append(
            {"t": time.time() - self.clock.start, "processes": processes, "cpu": cpu}
        )

    def at(self, seconds: float) -> dict[str, Any]:
        """The first sample taken at or after `seconds` into the run (else the last)."""
        return next((s for s in self.samples if s["t"] >= seconds), self.samples[-1])


def minute_rows(tally: Tally, sampler: Sampler, minutes: int) -> list[dict[str, Any]]:
    """Per minute: requests by status class, throughput, and the cores each part used."""
    rows = []
    for minute in range(minutes):
        counts = tally.minutes.get(minute, Counter())
        before, after = sampler.at(minute * 60), sampler.at((minute + 1) * 60)
        elapsed = max(after["t"] - before["t"], 1e-9)
        cores = {
            part: (after["cpu"][part] - before["cpu"][part]) / elapsed for part in after["cpu"]
        }
        parts = ("server", "postgres", "wrk", "writer")
        cores["others"] = cores["machine"] - sum(cores[part] for part in parts)
        classes = {name: counts[name] for name in ("2xx", "3xx", "4xx", "5xx", "no response")}
        requests = sum(classes.values()) + counts["1xx"]
        rows.append(
            {"minute": minute + 1, "requests": requests, "rps": requests / 60}
            | classes
            | {"unexpected": counts["unexpected"]}
            | {f"cores_{part}": cores[part] for part in (*parts, "others")}
        )
    return rows


def process_rows(sampler: Sampler) -> list[dict[str, Any]]:
    """Per process of the server: RSS at the start, at 1 minute, at the end; growth
    after the first minute, its trend, and descriptors and threads."""
    rows = []
    names = list(dict.fromkeys(name for s in sampler.samples for name in s["processes"]))
    one, end = sampler.at(60), sampler.samples[-1]
    for name in names:
        series = [(s["t"], s["processes"][name]) for s in sampler.samples if name in s["processes"]]
        late = [(t, status["rss"] / MIB) for t, status in series if t >= one["t"]]
        row: dict[str, Any] = {
            "process": name,
            "pid": series[0][1]["pid"],
            "rss_start_mib": series[0][1]["rss"] / MIB,
            "rss_peak_mib": max(status["rss"] for _, status in series) / MIB,
            "whole_run": name in one["processes"] and name in end["processes"],
        }
        if row["whole_run"]:
            at_one, at_end = one["processes"][name], end["processes"][name]
            growth = (at_end["rss"] - at_one["rss"]) / MIB
            half = sampler.at((one["t"] + end["t"]) / 2)["processes"].get(name, at_one)
            row |= {
                "rss_1min_mib": at_one["rss"] / MIB,
                "rss_end_mib": at_end["rss"] / MIB,
                "growth_mib": growth,
                "growth_pct": 100 * growth / (at_one["rss"] / MIB),
                "second_half_growth_mib": (at_end["rss"] - half["rss"]) / MIB,
                "slope_mib_per_min": statistics.linear_regression(
                    [t / 60 for t, _ in late], [rss for _, rss in late]
                ).slope
                if len(late) >= 2
                else 0.0,
                "fds": f"{at_one['fds']}→{at_end['fds']}",
                "threads": f"{at_one['threads']}→{at_end['threads']}",
                "flat": growth <= FLAT_MIB,
            }
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """A Markdown table of `rows`, `columns` being {key: heading}."""

    def shown(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    print("| " + " | ".join(columns.values()) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(shown(row.get(key, "-")) for key in columns) + " |")


def report(
    args: argparse.Namespace, result: dict[str, Any], header: str, complaints: list[str]
) -> tuple[int, dict[str, Any]]:
    tally = Tally()
    tally.add(result["wrk"])
    tally.add(result["writer"])
    sampler: Sampler = result["sampler"]
    summary = result["summary"]
    minutes = minute_rows(tally, sampler, args.minutes)
    processes = process_rows(sampler)
    print(f"\n{header}\n")
    print_table(
        minutes,
        {
            "minute": "minute",
            "requests": "requests",
            "rps": "req/s",
            "2xx": "2xx",
            "4xx": "4xx",
            "5xx": "5xx",
            "no response": "no response",
            "unexpected": "unexpected",
            "cores_server": "server cores",
            "cores_postgres": "PostgreSQL",
            "cores_wrk": "wrk",
            "cores_writer": "writer",
            "cores_others": "others",
        },
    )
    total = sum(row["requests"] for row in minutes)
    after_first = sum(row["requests"] for row in minutes[1:])
    print(
        f"\n{total:,} requests, {total / (args.minutes * 60):,.0f} per second; wrk's latency "
        f"p50 {summary['p50_us'] / 1000:.1f} ms, p99 {summary['p99_us'] / 1000:.1f} ms, "
        f"max {summary['max_us'] / 1000:.0f} ms; wrk socket errors: connect "
        f"{summary['connect']:.0f}, read {summary['read']:.0f}, write {summary['write']:.0f}, "
        f"timeout {summary['timeout']:.0f}\n"
    )
    print("| request | status | count |\n|---|---|---:|")
    for name, count in sorted(tally.operations.items()):
        operation, status = name.rsplit(" ", 1)
        print(f"| {operation} | {status} | {count:,} |")
    print()
    print_table(
        processes,
        {
            "process": "process",
            "pid": "pid",
            "rss_start_mib": "RSS at start (MiB)",
            "rss_1min_mib": "at 1 min",
            "rss_end_mib": "at end",
            "rss_peak_mib": "peak",
            "growth_mib": "growth after 1 min (MiB)",
            "growth_pct": "growth (%)",
            "second_half_growth_mib": "of which 2nd half",
            "slope_mib_per_min": "trend (MiB/min)",
            "fds": "open fds",
            "threads": "threads",
        },
    )
    workers = [row for row in processes if row["process"].startswith("worker")]
    if after_first and workers:
        per_worker = after_first / len(workers)
        print(
            f"\nafter minute 1 each worker served about {per_worker:,.0f} requests: growth of "
            f"{FLAT_MIB:.0f} MiB would be {FLAT_MIB * MIB / per_worker:,.0f} bytes a request"
        )
    server_errors = sum(row["5xx"] for row in minutes)
    unanswered = sum(row["no response"] for row in minutes) + sum(
        summary[part] for part in ("connect", "read", "write", "timeout")
    )
    unexpected = sum(tally.unexpected.values())
    restarted = len(workers) > args.workers or not all(row["whole_run"] for row in processes)
    flat: tuple[bool | None, str]
    if args.minutes < 2:
        flat = (None, "not measured: a one-minute run has no time after its first minute")
    elif restarted:
        flat = (False, "a worker was started again during the run (see the table)")
    else:
        growths = (f"{row['process']} {row['growth_mib']:+.1f} MiB" for row in processes)
        flat = (all(row["flat"] for row in processes), ", ".join(growths))
    verdicts: dict[str, tuple[bool | None, str]] = {
        "no 5xx": (server_errors == 0, f"{server_errors:,} of {total:,} requests"),
        "no unexpected status": (
            unexpected == 0,
            ", ".join(f"{what}: {n:,}" for what, n in tally.unexpected.most_common()) or "none",
        ),
        "every request answered": (unanswered == 0, f"{unanswered:,.0f} without a response"),
        f"RSS flat (each process grew at most {FLAT_MIB:.0f} MiB after minute 1)": flat,
    }
    print()
    for target, (met, detail) in verdicts.items():
        print(f"{ {True: 'PASS', False: 'FAIL', None: 'SKIP'}[met] }  {target}: {detail}")
    if tally.late_acceptances_ms:
        shown = ", ".join(f"{ms:.1f}" for ms in sorted(tally.late_acceptances_ms)[:20])
        print(f"revoked keys accepted, ms after their revoke's 204: {shown}")
    for example in tally.examples[:10]:
        print(f"  unexpected: {example}")
    print(
        f"\nthe server logged {len(complaints)} warnings and errors" + (":" if complaints else "")
    )
    for line in complaints[-10:]:
        print(f"  {line[:300]}")
    record = {
        "header": header,
        "minutes": minutes,
        "processes": processes,
        "operations": dict(tally.operations),
        "unexpected": dict(tally.unexpected),
        "late_acceptances_ms": tally.late_acceptances_ms,
        "wrk": summary,
        "verdicts": {
            target: {"met": met, "detail": detail} for target, (met, detail) in verdicts.items()
        },
        "samples": sampler.samples,
    }
    return (1 if any(met is False for met, _ in verdicts.values()) else 0), record


def server_complaints(log: Path) -> list[str]:
    """The server's warnings and errors (a 5xx is logged with its cause)."""
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if '"level": "warning"' in line or '"level": "error"' in line or "Traceback" in line
    ]
