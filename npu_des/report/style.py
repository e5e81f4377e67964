"""Look of the charts, shared by every figure: sizes, colours per op and tensor kind, saving.

Kept apart from the data modules so the Gantt data, its drawing and the per-layer bars agree on
colours without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from npu_des.kinds import Op, TensorKind

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_WIDTH_INCHES = 14.0
DPI = 120
PLOT_PIXELS = int(FIGURE_WIDTH_INCHES * DPI * 0.8)   # roughly the axes width, for merging and binning
DRAM_BIN_PIXELS = 6                                  # one utilisation bin per this many pixels
MIN_VISIBLE_SHARE = 0.08                             # a busy pixel column is drawn at least this high
LAYER_LABEL_MIN_SHARE = 0.025                        # label a layer spanning at least 2.5% of the view
LABEL_PIXELS_PER_CHARACTER = 4.5                     # a 6-pt layer label, for fitting names into spans
# Every (compute op | load kind | store kind) has its own colour: a forward run's compute Y and store Y
# must not look alike.
COMPUTE_COLOURS: dict[str, str] = {Op.DX: "#1f77b4", Op.DW: "#ff7f0e", Op.Y: "#2b8cbe", Op.VECTOR: "#e7298a"}
LOAD_COLOURS: dict[str, str] = {TensorKind.X: "#8c564b", TensorKind.W: "#bcbd22", TensorKind.DY: "#d62728",
                                TensorKind.DX: "#9ecae1", TensorKind.DW: "#fdd0a2", TensorKind.Y: "#74c476"}
STORE_COLOURS: dict[str, str] = {TensorKind.DX: "#17becf", TensorKind.DW: "#9467bd", TensorKind.X: "#c49c94",
                                 TensorKind.W: "#dbdb8d", TensorKind.DY: "#ff9896", TensorKind.Y: "#31a354"}
STALL_COLOURS: dict[str, str] = {}  # stall reason -> colour; reasons not listed take STALL_PALETTE in order
STALL_PALETTE = ("#525252", "#e6550d", "#969696", "#fdae6b", "#3f007d", "#bcbddc", "#a50f15", "#d9d9d9")
OTHER_COLOUR = "#7f7f7f"
DRAM_BUSY_COLOUR, DRAM_UTIL_COLOUR = "#c7c7c7", "#2ca02c"
SPM_USED_COLOUR, SPM_PINNED_COLOUR, SPM_CAPACITY_COLOUR = "#c6dbef", "#08519c", "#d62728"
SPM_REFERENCED_COLOUR = "#4292c6"
STRIP_BACKGROUND = "#f0f0f0"
LAYER_LINE_COLOUR = "#bdbdbd"


def save_figure(figure: Figure, stem: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write `stem`.<format> for each format; returns the paths written."""
    paths = []
    for extension in formats:
        path = stem.parent / f"{stem.name}.{extension}"  # not with_suffix: layer names have dots
        figure.savefig(path, dpi=DPI)
        figure.set_layout_engine("none")  # keep the first save's layout: a second solve costs a second
        paths.append(path)
    return paths
