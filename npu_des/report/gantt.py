"""Gantt chart of a run: array, DMA and DRAM lanes with the SPM occupancy curve under them.

Several runs (sequential and interleaved) stack on one shared cycle axis. The data lives in
npu_des/report/gantt_data.py and the matplotlib side in npu_des/report/gantt_draw.py, imported only
when a chart is drawn so `npu-des` starts without loading matplotlib.
"""

from __future__ import annotations

from pathlib import Path

from npu_des.report.gantt_data import Bars, GanttData, Lane, LayerMark, SubRow, gantt_data, lane_layout
from npu_des.report.saved import SavedRun
from npu_des.report.style import save_figure

__all__ = ["Bars", "GanttData", "Lane", "LayerMark", "SubRow", "draw_gantt", "gantt_data", "lane_layout"]


def draw_gantt(
    runs: list[SavedRun],
    window: tuple[float, float],
    stem: Path,
    formats: tuple[str, ...] = ("png", "svg"),
    highlight_layer: str | None = None,
) -> tuple[list[Path], list[GanttData]]:
    """Draw the runs stacked on one shared time axis; write `stem`.png/.svg; return paths and plotted data."""
    from npu_des.report.gantt_draw import render

    lanes = lane_layout(runs)
    data = [gantt_data(run, lanes, window) for run in runs]
    return save_figure(render(data, lanes, highlight_layer), stem, formats), data
