"""bench/scale.py's figures as Markdown tables and as a chart (matplotlib, log-scale x).

.venv/bin/python bench/scale_report.py     # redraw both from bench/scale.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KINDS = {"page 1": "page 1", "cursor": "cursor, 50k deep", "offset": "page=N, 50k deep"}
BACKENDS = ("SQLite", "PostgreSQL")


def _list_table(rows: list[dict[str, Any]], what: str) -> list[str]:
    sizes = sorted({row["datasets"] for row in rows})
    header = [f"{backend}, {KINDS[kind]}" for backend in BACKENDS for kind in KINDS]
    lines = [
        f"| {what} in the tenant | " + " | ".join(header) + " |",
        "|---:|" + "---:|" * len(header),
    ]
    for size in sizes:
        cells = [_cell(rows, backend, size, kind) for backend in BACKENDS for kind in KINDS]
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"p50 / p99 in ms; a tenant under 100,000 {what} is read half-way down.")
    return lines


def _cell(rows: list[dict[str, Any]], backend: str, size: int, kind: str) -> str:
    for row in rows:
        if (row["backend"], row["datasets"], row["kind"]) == (backend, size, kind):
            return f"{row['p50']:.2f} / {row['p99']:.2f}"
    return "-"


def markdown_tables(results: dict[str, Any]) -> str:
    lines = _list_table(results.get("lists", {}).get("rows", []), "datasets")
    audit = results.get("audit", {}).get("rows", [])
    if audit:
        lines += ["", *_list_table(audit, "audit events")]
    keys = results.get("keys", {}).get("rows", [])
    if keys:
        lines += [
            "",
            "| distinct keys in use | req/s | p50 ms | p99 ms | key cache hits | non-2xx |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in keys:
            lines.append(
                f"| {row['keys']:,} | {row['rps']:,.0f} | {row['p50']:.2f} | {row['p99']:.2f} "
                f"| {row['hit_ratio']:.0%} | {row['errors']:.0f} |"
            )
    return "\n".join(lines)


def _list_panel(axis: Any, rows: list[dict[str, Any]], what: str, route: str) -> None:
    from matplotlib.ticker import ScalarFormatter

    colours = {"SQLite": "tab:blue", "PostgreSQL": "tab:orange"}
    markers = {"page 1": "o", "cursor": "s", "offset": "^"}
    for backend in BACKENDS:
        for kind in KINDS:
            line = [r for r in rows if (r["backend"], r["kind"]) == (backend, kind)]
            if not line:
                continue
            sizes = [r["datasets"] for r in line]
            style = {"color": colours[backend], "marker": markers[kind]}
            axis.plot(sizes, [r["p50"] for r in line], label=f"{backend}, {KINDS[kind]}", **style)
            axis.plot(sizes, [r["p99"] for r in line], linestyle=":", alpha=0.6, **style)
    axis.set(
        xscale="log",
        yscale="log",
        xlabel=f"{what} in the tenant",
        ylabel="list latency, ms (solid p50, dotted p99)",
        title=f"GET {route}, 1 worker",
    )
    axis.yaxis.set_major_formatter(ScalarFormatter())
    if rows:
        axis.legend(fontsize=7)
    axis.grid(True, which="both", alpha=0.3)


def draw_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = results.get("keys", {}).get("rows", [])
    figure, (lists_axis, keys_axis, audit_axis) = plt.subplots(1, 3, figsize=(16, 5))
    panels = [
        (lists_axis, results.get("lists", {}).get("rows", []), "datasets", "/api/v1/datasets"),
        (audit_axis, results.get("audit", {}).get("rows", []), "audit events",
         "/api/v1/audit-events"),
    ]  # fmt: skip
    for axis, rows, what, route in panels:
        _list_panel(axis, rows, what, route)

    if keys:
        counts = [r["keys"] for r in keys]
        keys_axis.plot(counts, [r["rps"] for r in keys], marker="o", color="tab:green")
        keys_axis.set(xscale="log", xlabel="distinct API keys in use (rotated)", ylabel="req/s")
        keys_axis.set_ylim(bottom=0)
        keys_axis.axvline(100_000, color="grey", linestyle="--", alpha=0.5)
        keys_axis.text(100_000, 0, " key cache\n per worker", fontsize=7, color="grey", va="bottom")
        latency_axis = keys_axis.twinx()
        latency_axis.plot(counts, [r["p99"] for r in keys], marker="s", color="tab:red")
        latency_axis.set_ylabel("p99 ms", color="tab:red")
        latency_axis.set_ylim(bottom=0)
        keys_axis.set_title("wrk -c32, PostgreSQL, 2 workers")
        keys_axis.grid(True, which="both", alpha=0.3)

    parts = ("lists", "keys", "audit")
    when = [f"{part} {results[part]['started']}" for part in parts if part in results]
    figure.suptitle(f"Relay cost growth, 2 cores ({'; '.join(when)})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    saved = json.loads((here / "scale.json").read_text())
    print(markdown_tables(saved))
    draw_chart(saved, here.parent / "docs" / "images" / "scale.png")
