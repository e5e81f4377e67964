"""Write a RunResult as files (summary.json, layers.csv, timeline.csv, spm.csv) and print summaries."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from rich.console import Console
from rich.table import Table

from npu_des.kinds import DIRECTIONS
from npu_des.metrics import RunResult, TimelineEvent, kinds_of, pass_title
from npu_des.report.explained import explained_rows
from npu_des.report.order_lines import baseline_lines
from npu_des.sim.records import timeline_rows

MB = 1e6


def write_run(result: RunResult, directory: Path) -> list[Path]:
    """Write one run's summary, per-layer table, timeline and SPM occupancy into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    summary = directory / "summary.json"
    summary.write_text(json.dumps(result.summary(), indent=2, sort_keys=True) + "\n")
    layers = directory / "layers.csv"
    rows = [{**row.flat(), **result.layer_analyses.get(row.key, {})} for row in result.layers]
    with layers.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["layer"])
        writer.writeheader()
        writer.writerows(rows)
    timeline = directory / "timeline.csv"
    with timeline.open("w", newline="") as handle:
        events = csv.writer(handle)
        events.writerow([f.name for f in fields(TimelineEvent)])
        events.writerows(timeline_rows(result.timeline))
    spm = directory / "spm.csv"
    with spm.open("w", newline="") as handle:
        samples = csv.writer(handle)
        samples.writerow(["cycle", "used_bytes", "pinned_bytes"])
        samples.writerows(result.spm_occupancy)
    return [summary, layers, timeline, spm]


def read_timeline(path: Path) -> list[TimelineEvent]:
    """Inverse of the timeline.csv writer, for plots of saved runs."""
    with path.open(newline="") as handle:
        return [
            TimelineEvent(
                r["resource"],
                float(r["start"]),
                float(r["end"]),
                r["kind"],
                r["layer"],
                r["op"],
                r["tile"],
                int(r["bytes"]),
                r["direction"],
            )
            for r in csv.DictReader(handle)
        ]


def comparison_rows(results: list[RunResult]) -> list[tuple[str, list[str]]]:
    """(metric, value per run) rows for the summary table."""
    rows: list[tuple[str, list[str]]] = [
        ("total cycles", [f"{r.total_cycles:,.0f}" for r in results]),
        ("time", [f"{r.seconds * 1e3:.3f} ms" for r in results]),
        *pass_rows(results, "time", lambda r: f"{r.seconds * 1e3:.3f} ms"),
        ("lower bound (cycles)", [f"{r.lower_bound_cycles:,.0f}" for r in results]),
    ]
    for direction in DIRECTIONS:
        for kind in kinds_of(results[0].dram_bytes):
            values = [r.dram_bytes[direction].get(kind, 0) for r in results]
            if any(values):
                rows.append((f"DRAM {direction} {kind}", [f"{v / MB:.2f} MB" for v in values]))
    rows += [
        ("DRAM total", [f"{r.total_dram_bytes / MB:.2f} MB" for r in results]),
        *pass_rows(results, "DRAM", lambda r: f"{r.total_dram_bytes / MB:.2f} MB"),
        ("SPM hit rate", [f"{r.spm_hit_rate:.1%}" for r in results]),
        *(
            [
                (
                    "vector ops (non-GEMM)",
                    [
                        f"{r.vector_span_cycles / r.total_cycles:.1%} of time, {r.vector_cycles:,} busy cyc"
                        for r in results
                    ],
                )
            ]
            if any(r.vector_cycles for r in results)
            else []
        ),
        ("core busy", [" / ".join(f"{u:.0%}" for u in r.core_utilisation) for r in results]),
        ("PE utilisation", [f"{r.pe_utilisation:.1%}" for r in results]),
        *explained_rows([r.summary() for r in results]),
    ]
    return rows


def pass_rows(results: list[RunResult], metric: str,
              render: Callable[[RunResult], str]) -> list[tuple[str, list[str]]]:
    """`  forward <metric>` / `  backward <metric>` rows under a training step's total (none unless every
    run is a training step)."""
    if not all(r.passes for r in results):
        return []
    return [(f"  {name} {metric}", [render(r.passes[name]) for r in results]) for name in results[0].passes]


def print_summary(results: list[RunResult], console: Console | None = None) -> None:
    """A table with one column per run, then every order against the baseline (sequential)."""
    console = console or Console()
    first = results[0]
    title = f"{first.model} {pass_title(first.pass_name)} on {first.hardware} ({first.cores} cores)"
    print_table(title, ["metric", *(r.order for r in results)], comparison_rows(results), console)
    for line in baseline_lines(results):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def print_table(title: str, header: list[str], rows: list[tuple[str, list[str]]], console: Console) -> None:
    """A rich table on a terminal wide enough for it; plain aligned text otherwise (piped output, or a
    narrow terminal), so cells are never cut to '…' nor numbers wrapped inside a cell."""
    cells = [header, *([metric, *values] for metric, values in rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    rich_width = sum(widths) + 3 * len(widths) + 1  # rich's box: a border and a space each side of a cell
    if console.is_terminal and rich_width <= console.width:
        table = Table(title=title)
        for index, name in enumerate(header):
            table.add_column(name, justify="left" if index == 0 else "right", no_wrap=True)
        for metric, values in rows:
            table.add_row(metric, *values)
        console.print(table)
        return
    lines = [title]
    for number, row in enumerate(cells):
        lines.append("  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
