"""Write a RunResult as files (summary.json, layers.csv, timeline.csv, spm.csv) and print summaries."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path

from rich.console import Console
from rich.table import Table

from npu_des.kinds import DIRECTIONS, Direction, TensorKind
from npu_des.metrics import RunResult, TimelineEvent, kinds_of
from npu_des.sim.records import timeline_rows

MB = 1e6


def write_run(result: RunResult, directory: Path) -> list[Path]:
    """Write one run's summary, per-layer table, timeline and SPM occupancy into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    summary = directory / "summary.json"
    summary.write_text(json.dumps(result.summary(), indent=2, sort_keys=True) + "\n")
    layers = directory / "layers.csv"
    rows = [row.flat() for row in result.layers]
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
        ("lower bound (cycles)", [f"{r.lower_bound_cycles:,.0f}" for r in results]),
    ]
    for direction in DIRECTIONS:
        for kind in kinds_of(results[0].dram_bytes):
            values = [r.dram_bytes[direction].get(kind, 0) for r in results]
            if any(values):
                rows.append((f"DRAM {direction} {kind}", [f"{v / MB:.2f} MB" for v in values]))
    rows += [
        ("DRAM total", [f"{r.total_dram_bytes / MB:.2f} MB" for r in results]),
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
    ]
    return rows


def print_summary(results: list[RunResult], console: Console | None = None) -> None:
    """A table with one column per run, and the speedup of interleaved over sequential when both ran."""
    console = console or Console()
    first = results[0]
    table = Table(
        title=f"{first.model} {'forward' if first.order == 'forward' else 'backward'} on {first.hardware} "
        f"({first.cores} cores)"
    )
    table.add_column("metric")
    for result in results:
        table.add_column(result.order, justify="right")
    for metric, values in comparison_rows(results):
        table.add_row(metric, *values)
    console.print(table)
    by_order = {r.order: r for r in results}
    if "sequential" in by_order and "interleaved" in by_order:
        seq, inter = by_order["sequential"], by_order["interleaved"]
        console.print(
            f"interleaved / sequential time: {inter.total_cycles / seq.total_cycles:.3f} "
            f"(speedup {seq.total_cycles / inter.total_cycles:.3f}x); dY reads "
            f"{seq.dram_bytes[Direction.READ][TensorKind.DY] / MB:.2f} MB -> "
            f"{inter.dram_bytes[Direction.READ][TensorKind.DY] / MB:.2f} MB"
        )
