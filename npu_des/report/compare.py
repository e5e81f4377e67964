"""Two saved runs side by side: per-layer and total deltas of time, DRAM bytes by tensor kind, energy and
stall reasons, as tables (rich or plain text) and a chart.

Reads only what `npu-des run --out` wrote (summary.json, layers.csv). Optional parts appear when a run
has them: energy (summary `energy`, layers.csv `energy_pj`) and stalls (summary `stalls`, layers.csv
`stall_<reason>_cycles`). Runs of different models do not compare: a ConfigError naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from npu_des.errors import ConfigError
from npu_des.kinds import DIRECTIONS, KINDS
from npu_des.report.explained import COMPONENTS, stall_totals
from npu_des.report.saved import SavedRun
from npu_des.report.style import LOAD_COLOURS, save_figure

STALL_COLUMN = re.compile(r"stall_(.+)_cycles$")
Table = tuple[str, list[str], list[list[str]]]  # title, headers, rows
PJ_PER_UJ = 1e6


@dataclass(frozen=True)
class Comparison:
    """Metric -> (base, other) for the totals and for each layer (layers in the base run's order)."""

    base: SavedRun
    other: SavedRun
    totals: dict[str, tuple[float, float]]
    layer_metrics: list[str]
    layers: dict[str, dict[str, tuple[float, float]]]


def _layer_time(row: dict[str, str]) -> float:
    return float(row.get("window_cycles") or row.get("cycles") or 0.0)


def _layer_values(row: dict[str, str]) -> dict[str, float]:
    """A layers.csv row's comparable metrics: time, DRAM bytes by kind, energy, stall cycles by reason."""
    values = {"time (cycles)": _layer_time(row)}
    for kind in KINDS:
        values[f"DRAM {kind} (B)"] = sum(float(row.get(f"{d}_{kind}") or 0) for d in DIRECTIONS)
    if row.get("energy_pj"):
        values["energy (uJ)"] = float(row["energy_pj"]) / PJ_PER_UJ
    for column, value in row.items():
        match = STALL_COLUMN.match(column)
        if match and value:
            values[f"stall {match.group(1)} (cycles)"] = float(value)
    return values


def _total_values(run: SavedRun) -> dict[str, float]:
    summary = run.summary
    values = {"time (cycles)": float(summary["total_cycles"])}
    dram = summary.get("dram_bytes", {})
    for kind in KINDS:
        values[f"DRAM {kind} (B)"] = float(sum(dram.get(d, {}).get(kind, 0) for d in DIRECTIONS))
    values["DRAM total (B)"] = float(summary.get("total_dram_bytes", 0))
    energy = summary.get("energy")
    if isinstance(energy, dict):
        values["energy (uJ)"] = float(energy["total_pj"]) / PJ_PER_UJ
        for part in COMPONENTS:
            values[f"energy {part} (uJ)"] = float(energy["components_pj"].get(part, 0.0)) / PJ_PER_UJ
    for reason, cycles in stall_totals(summary).items():
        values[f"stall {reason} (cycles)"] = cycles
    return values


def _paired(base: dict[str, float], other: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Metrics either side has, in first-seen order; a metric one side lacks counts as 0 there."""
    names = list(dict.fromkeys([*base, *other]))
    return {name: (base.get(name, 0.0), other.get(name, 0.0)) for name in names}


def compare_runs(base: SavedRun, other: SavedRun) -> Comparison:
    """Deltas of `other` against `base`; both must be runs of one model."""
    if base.model != other.model:
        raise ConfigError(
            f"model '{other.model}' is not '{base.model}' of {base.directory}: compare runs of one model",
            source=str(other.directory / "summary.json"),
            field="model",
        )
    base_rows = {row["layer"]: _layer_values(row) for row in base.layers}
    other_rows = {row["layer"]: _layer_values(row) for row in other.layers}
    layers = {name: _paired(values, other_rows.get(name, {})) for name, values in base_rows.items()}
    metrics = list(dict.fromkeys(metric for values in layers.values() for metric in values))
    return Comparison(base, other, _paired(_total_values(base), _total_values(other)), metrics, layers)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.3g}"


def _delta(base: float, other: float) -> str:
    change = other - base
    ratio = f" ({other / base:.3f}x)" if base else ""
    return f"{'+' if change > 0 else ''}{_number(change)}{ratio}"


def comparison_tables(comparison: Comparison) -> list[Table]:
    """The totals table and the per-layer table (deltas of every metric, B - A)."""
    a, b = comparison.base.order, comparison.other.order
    label_a, label_b = (a, b) if a != b else (str(comparison.base.directory), str(comparison.other.directory))
    totals = [[metric, _number(x), _number(y), _delta(x, y)] for metric, (x, y) in comparison.totals.items()]
    metrics = [
        m
        for m in comparison.layer_metrics
        if any(v[m][0] or v[m][1] for v in comparison.layers.values() if m in v)
    ]
    layer_rows = []
    for name, values in comparison.layers.items():
        time_a, time_b = values.get("time (cycles)", (0.0, 0.0))
        cells = [name, _number(time_a), _number(time_b)]
        cells += [_delta(*values.get(metric, (0.0, 0.0))) for metric in metrics]
        layer_rows.append(cells)
    title = f"{comparison.base.model} on {comparison.base.hardware} / {comparison.other.hardware}"
    return [
        (
            f"{title}: totals, {label_b} against {label_a}",
            ["metric", label_a, label_b, "delta (B - A)"],
            totals,
        ),
        (
            f"per layer: delta (B - A) of each metric, A = {label_a}, B = {label_b}",
            ["layer", f"time A ({label_a})", f"time B ({label_b})", *(f"d {m}" for m in metrics)],
            layer_rows,
        ),
    ]


def render_plain(tables: Sequence[Table]) -> str:
    """The tables as aligned plain text (for pipes and files): no colours, no box drawing."""
    out = []
    for title, headers, rows in tables:
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
        out.append(title)
        out.extend(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()
            for cells in (headers, *rows)
        )
        out.append("")
    return "\n".join(out)


def draw_comparison(
    comparisons: Sequence[Comparison], stem: Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Per-layer deltas against the base run: time, DRAM bytes by tensor kind, and energy if both have it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    first = comparisons[0]
    names = list(first.layers)
    with_energy = all("energy (uJ)" in c.totals and all(c.totals["energy (uJ)"]) for c in comparisons)
    panels = 3 if with_energy else 2
    figure, axes = plt.subplots(
        panels, 1, figsize=(max(8, 0.22 * len(names) + 3), 3.2 * panels), layout="constrained", sharex=True
    )
    x = np.arange(len(names))
    width = 0.8 / len(comparisons)
    stacked = [0.0, 0.0]  # lowest and highest stacked DRAM delta, for the axis limits

    def series(c: Comparison, metric: str) -> np.ndarray:
        return np.array(
            [
                c.layers[n].get(metric, (0.0, 0.0))[1] - c.layers[n].get(metric, (0.0, 0.0))[0]
                if n in c.layers
                else 0.0
                for n in names
            ]
        )

    for index, c in enumerate(comparisons):
        offset = x - 0.4 + width * (index + 0.5)
        axes[0].bar(offset, series(c, "time (cycles)"), width, label=f"{c.other.order} - {c.base.order}")
        bottom_pos, bottom_neg = np.zeros(len(names)), np.zeros(len(names))
        for kind in KINDS:
            values = series(c, f"DRAM {kind} (B)") / 1e6
            bottom = np.where(values >= 0, bottom_pos, bottom_neg)
            axes[1].bar(
                offset,
                values,
                width,
                bottom=bottom,
                color=LOAD_COLOURS.get(kind),
                label=kind if index == 0 else None,
            )
            bottom_pos += np.maximum(values, 0)
            bottom_neg += np.minimum(values, 0)
        stacked = [
            min(stacked[0], float(bottom_neg.min(initial=0))),
            max(stacked[1], float(bottom_pos.max(initial=0))),
        ]
        if with_energy:
            axes[2].bar(
                offset, series(c, "energy (uJ)") / 1e3, width, label=f"{c.other.order} - {c.base.order}"
            )
    axes[0].set_ylabel("delta time (cycles)")
    axes[1].set_ylabel("delta DRAM (MB)")
    margin = 0.05 * (stacked[1] - stacked[0]) or 1.0
    axes[1].set_ylim(stacked[0] - margin, stacked[1] + margin)
    if with_energy:
        axes[2].set_ylabel("delta energy (mJ)")
    for axis in axes:
        axis.axhline(0, color="black", linewidth=0.8)
        axis.grid(True, axis="y", alpha=0.3)
        axis.legend(fontsize=7, ncol=5)
    axes[-1].set_xticks(x, names, rotation=90, fontsize=6)
    axes[0].set_title(
        f"{first.base.model}: per-layer deltas against {first.base.order} ({first.base.directory})"
    )
    paths = save_figure(figure, stem, formats)
    plt.close(figure)
    return paths
