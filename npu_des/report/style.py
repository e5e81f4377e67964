"""Look of the charts, shared by every figure: sizes, colours per op and tensor kind, saving.

Kept apart from the data modules so the Gantt data, its drawing and the per-layer bars agree on
colours without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_WIDTH_INCHES = 14.0
DPI = 120
PLOT_PIXELS = int(FIGURE_WIDTH_INCHES * DPI * 0.8)   # roughly the axes width, for merging and binning
DRAM_BIN_PIXELS = 6                                  # one utilisation bin per this many pixels
COMPUTE_COLOURS = {"dX": "#1f77b4", "dW": "#ff7f0e"}
LOAD_COLOURS = {"X": "#8c564b", "W": "#bcbd22", "dY": "#d62728", "dX": "#9ecae1", "dW": "#fdd0a2"}
STORE_COLOURS = {"dX": "#17becf", "dW": "#9467bd", "X": "#c49c94", "W": "#dbdb8d", "dY": "#ff9896"}
OTHER_COLOUR = "#7f7f7f"
DRAM_BUSY_COLOUR, DRAM_UTIL_COLOUR = "#c7c7c7", "#2ca02c"
SPM_USED_COLOUR, SPM_PINNED_COLOUR, SPM_CAPACITY_COLOUR = "#6baed6", "#08519c", "#d62728"


def save_figure(figure: Figure, stem: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write `stem`.<format> for each format; returns the paths written."""
    paths = []
    for extension in formats:
        path = stem.parent / f"{stem.name}.{extension}"  # not with_suffix: layer names have dots
        figure.savefig(path, dpi=DPI)
        figure.set_layout_engine("none")  # keep the first save's layout: a second solve costs a second
        paths.append(path)
    return paths
