"""Per-layer DRAM traffic by tensor kind, one bar per order side by side, from layers.csv.

This is where the interleaved order's saving shows up layer by layer: its load-dY segments shrink,
while partial-sum loads (load dX/dW) may appear in their place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from npu_des.kinds import ALL_KINDS, DIRECTIONS, Direction
from npu_des.metrics import pass_title
from npu_des.report.saved import SavedRun
from npu_des.report.style import LOAD_COLOURS, OTHER_COLOUR, STORE_COLOURS, save_figure

HATCHES = ("", "////", "..", "xx")
MB = 1e6


@dataclass(frozen=True)
class LayerBytes:
    """bytes[run, column, layer] for the (direction, kind) columns that are non-zero in some run."""

    layers: list[str]
    orders: list[str]
    columns: list[tuple[str, str]]
    bytes: np.ndarray


def layer_bytes(runs: list[SavedRun]) -> LayerBytes:
    """Collect read_<kind>/write_<kind> columns per layer (Y too: forward runs and vector ops move it);
    layers in the first run's order."""
    layers = [row["layer"] for row in runs[0].layers]
    index = {name: position for position, name in enumerate(layers)}
    columns = [(direction, kind) for direction in DIRECTIONS for kind in ALL_KINDS]
    values = np.zeros((len(runs), len(columns), len(layers)), dtype=np.int64)
    for run_index, run in enumerate(runs):
        for row in run.layers:
            if row["layer"] in index:
                for column, (direction, kind) in enumerate(columns):
                    values[run_index, column, index[row["layer"]]] = int(
                        float(row.get(f"{direction}_{kind}") or 0)
                    )
    keep = values.sum(axis=(0, 2)) > 0
    return LayerBytes(
        layers, [run.order for run in runs], [c for c, k in zip(columns, keep) if k], values[:, keep, :]
    )


def draw_layer_bars(
    runs: list[SavedRun], stem: Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Horizontal stacked bars (MB) per layer, one per order; write `stem`.png/.svg."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    data = layer_bytes(runs)
    count = len(data.orders)
    height = 0.8 / count
    figure = Figure(figsize=(11, 1.6 + 0.22 * len(data.layers) * max(count, 1.5)), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(data.layers), dtype=np.float64)
    for run_index in range(len(data.orders)):
        y = positions - 0.4 + height * (run_index + 0.5)
        left = np.zeros(len(data.layers))
        for column, (direction, kind) in enumerate(data.columns):
            colours = LOAD_COLOURS if direction == Direction.READ else STORE_COLOURS
            widths = data.bytes[run_index, column] / MB
            drawn = widths > 0  # most layers move only some kinds; skipping empty bars halves the patches
            ax.barh(
                y[drawn],
                widths[drawn],
                height=height * 0.95,
                left=left[drawn],
                color=colours.get(kind, OTHER_COLOUR),
                hatch=HATCHES[run_index % len(HATCHES)],
                edgecolor="white",
                linewidth=0,
            )
            left += widths
    ax.set_yticks(positions, data.layers, fontsize=7)
    ax.set_ylim(len(data.layers) - 0.5, -0.5)
    ax.set_xlabel("DRAM traffic (MB)")
    ax.grid(axis="x", lw=0.3)
    totals = ", ".join(f"{order} {data.bytes[i].sum() / MB:,.1f} MB" for i, order in enumerate(data.orders))
    ax.set_title(
        f"{runs[0].model} {pass_title(runs[0].pass_name)} on {runs[0].hardware}: DRAM bytes per layer "
        f"by tensor kind ({totals})",
        fontsize=10,
    )
    handles = [
        Patch(
            color=(LOAD_COLOURS if d == Direction.READ else STORE_COLOURS).get(k, OTHER_COLOUR),
            label=f"{'load' if d == Direction.READ else 'store'} {k}",
        )
        for d, k in data.columns
    ]
    if count > 1:
        handles += [
            Patch(
                facecolor="#dddddd",
                hatch=HATCHES[i % len(HATCHES)],
                edgecolor="white",
                label=f"{order} (bar {i + 1} of each layer)",
            )
            for i, order in enumerate(data.orders)
        ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return save_figure(figure, stem, formats)
