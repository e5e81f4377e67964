"""Where a run's energy goes: stacked bars by component (MAC, SPM, DRAM, vector, leakage) and by tensor
kind (DRAM + SPM bytes), one bar per order, from summary.json's `energy` section."""

from __future__ import annotations

from pathlib import Path

from npu_des.errors import ConfigError
from npu_des.report.explained import COMPONENTS, MJ
from npu_des.report.saved import SavedRun
from npu_des.report.style import LOAD_COLOURS, OTHER_COLOUR, save_figure

COMPONENT_COLOURS = {
    "mac": "#1f77b4",
    "spm": "#2ca02c",
    "dram": "#d62728",
    "vector": "#9467bd",
    "leakage": "#7f7f7f",
}


def draw_energy_bars(
    runs: list[SavedRun], stem: Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Two panels, energy by component and by tensor kind (mJ); every run needs an energy section."""
    energies = [run.summary.get("energy") for run in runs]
    for run, energy in zip(runs, energies):
        if not isinstance(energy, dict):
            raise ConfigError(
                "no energy section in summary.json (the hardware had no energy: prices)",
                source=str(run.directory),
            )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_part, by_kind) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    orders = [run.order for run in runs]
    for axis, key, names, colours in (
        (by_part, "components_pj", COMPONENTS, COMPONENT_COLOURS),
        (by_kind, "kinds_pj", sorted({k for e in energies if e for k in e["kinds_pj"]}), LOAD_COLOURS),
    ):
        bottom = [0.0] * len(runs)
        for name in names:
            values = [e[key].get(name, 0.0) / MJ for e in energies if e]
            if any(values):
                axis.bar(orders, values, bottom=bottom, label=name, color=colours.get(name, OTHER_COLOUR))
                bottom = [b + v for b, v in zip(bottom, values)]
        axis.set_ylabel("energy (mJ)")
        axis.legend(fontsize=8)
        axis.grid(True, axis="y", alpha=0.3)
    by_part.set_title("by component")
    by_kind.set_title("by tensor kind (DRAM + SPM bytes)")
    paths = save_figure(figure, stem, formats)
    plt.close(figure)
    return paths
