"""Roofline of a saved run: one point per layer (arithmetic intensity vs achieved MAC/s), both orders.

Points come from the bounds columns of layers.csv (executed MACs, window cycles) and its DRAM byte
columns; roofs from summary.json's `bounds` (peak MACs per cycle, DRAM bytes per cycle) and the clock.
Layers that moved no DRAM bytes have no finite intensity and are left out (counted in the legend).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from npu_des.errors import ConfigError
from npu_des.report.saved import SavedRun
from npu_des.report.style import save_figure

MARKERS = ("o", "^", "s", "D", "v")


@dataclass(frozen=True)
class Roofline:
    """One run's roofline: roofs (MAC/s, B/s) and a point per layer with DRAM traffic."""

    order: str
    peak_macs_per_second: float
    bandwidth_bytes_per_second: float
    layers: list[str]
    intensity: list[float]  # executed MACs per DRAM byte
    macs_per_second: list[float]  # achieved over the layer's window
    bounds: list[str]
    left_out: int  # layers without DRAM bytes

    def roof(self, intensity: float) -> float:
        return min(self.peak_macs_per_second, intensity * self.bandwidth_bytes_per_second)


def layer_dram_bytes(row: dict[str, str]) -> int:
    """A layers.csv row's DRAM bytes, reads plus writes of every kind."""
    return sum(
        int(float(value)) for key, value in row.items() if key.startswith(("read_", "write_")) and value
    )


def roofline(run: SavedRun) -> Roofline:
    """The roofline of one saved run; a run written without bounds is an error naming the file."""
    bounds = run.summary.get("bounds")
    if not isinstance(bounds, dict) or not run.layers or "executed_macs" not in run.layers[0]:
        raise ConfigError(
            "no per-layer bounds (summary.json 'bounds', layers.csv 'executed_macs'); "
            "rerun `npu-des run --out`",
            source=str(run.directory),
        )
    cycles_per_second = run.cycles_per_us * 1e6
    layers, intensity, rate, labels = [], [], [], []
    left_out = 0
    for row in run.layers:
        nbytes, macs, window = layer_dram_bytes(row), float(row["executed_macs"]), float(row["window_cycles"])
        if nbytes <= 0 or macs <= 0 or window <= 0:
            left_out += 1
            continue
        layers.append(row["layer"])
        intensity.append(macs / nbytes)
        rate.append(macs / window * cycles_per_second)
        labels.append(row["bound"])
    return Roofline(
        run.order,
        float(bounds["peak_macs_per_cycle"]) * cycles_per_second,
        float(bounds["dram_bytes_per_cycle"]) * cycles_per_second,
        layers,
        intensity,
        rate,
        labels,
        left_out,
    )


def draw_roofline(runs: list[SavedRun], stem: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Log-log roofline of every run on one chart; writes `stem`.<format>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [roofline(run) for run in runs]
    figure, axis = plt.subplots(figsize=(8, 5.5), layout="constrained")
    every = [x for line in lines for x in line.intensity] or [1.0]
    low, high = min(every) / 3, max(every) * 3
    for index, line in enumerate(lines):
        ridge = line.peak_macs_per_second / line.bandwidth_bytes_per_second
        xs = sorted({low, high, min(max(ridge, low), high)})
        axis.plot(
            xs,
            [line.roof(x) for x in xs],
            color="black",
            linewidth=1.2,
            linestyle="-" if index == 0 else "--",
            label=f"roof ({line.order})" if len(lines) > 1 else "roof",
        )
        for bound, colour in (("compute", "#1f77b4"), ("memory", "#d62728")):
            points = [
                (x, y) for x, y, b in zip(line.intensity, line.macs_per_second, line.bounds) if b == bound
            ]
            if points:
                axis.scatter(
                    *zip(*points),
                    marker=MARKERS[index % len(MARKERS)],
                    color=colour,
                    alpha=0.75,
                    label=f"{line.order}: {bound}-bound layers ({len(points)})",
                )
        if line.left_out:
            axis.plot(
                [], [], " ", label=f"{line.order}: {line.left_out} layer(s) without DRAM bytes left out"
            )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("arithmetic intensity (executed MACs / DRAM byte)")
    axis.set_ylabel("achieved MAC/s over the layer's window")
    first = runs[0]
    axis.set_title(f"Roofline: {first.model} on {first.hardware} (one point per layer)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    paths = save_figure(figure, stem, formats)
    plt.close(figure)
    return paths
