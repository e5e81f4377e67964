"""Matplotlib side of the Gantt chart: turns GanttData panels into one Figure (Agg, no pyplot state).

Imported only when a chart is drawn, so `npu-des` starts without loading matplotlib.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter

from npu_des.metrics import pass_title
from npu_des.report.gantt_data import Bars, GanttData, Lane, drawn_heights
from npu_des.report.style import (
    DRAM_BUSY_COLOUR,
    DRAM_UTIL_COLOUR,
    FIGURE_WIDTH_INCHES,
    LABEL_PIXELS_PER_CHARACTER,
    LAYER_LINE_COLOUR,
    PLOT_PIXELS,
    SPM_CAPACITY_COLOUR,
    SPM_PINNED_COLOUR,
    SPM_REFERENCED_COLOUR,
    SPM_USED_COLOUR,
    STRIP_BACKGROUND,
)

STRIP_HEIGHT = 0.8
LAYER_SHADE = "#fff3b0"
LAYER_BAND = 1.1  # lane units above the first lane for layer names


def strip_gid(bars: Bars) -> str:
    """The artist id of a strip's busy columns, so tests can read back what was drawn."""
    return f"busy {bars.row.resource} {bars.row.key[0]} {bars.row.key[1]}".rstrip()


def render(data: list[GanttData], lanes: list[Lane], highlight_layer: str | None = None) -> Figure:
    """One lane panel plus one SPM panel per run, all sharing the x axis (cycles below, µs on top)."""
    lane_units = lanes[-1].top + lanes[-1].height if lanes else 1.0
    ratios: list[float] = []
    for _ in data:
        ratios += [0.6 + 0.16 * lane_units, 1.2]
    figure = Figure(figsize=(FIGURE_WIDTH_INCHES, sum(ratios) + 1.4), layout="constrained")
    axes = figure.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios}, squeeze=False)[
        :, 0
    ]
    start, end = data[0].window
    for index, panel in enumerate(data):
        lane_axes, spm_axes = axes[2 * index], axes[2 * index + 1]
        _draw_lanes(lane_axes, panel, lanes)
        _draw_spm(spm_axes, panel)
        for ax in (lane_axes, spm_axes):
            if highlight_layer and (span := panel.run.layer_span(highlight_layer)):
                ax.axvspan(*span, color=LAYER_SHADE, zorder=0.8, lw=0, alpha=0.7)  # above strip backgrounds
            if start < panel.run.total_cycles < end:
                ax.axvline(panel.run.total_cycles, color="black", ls="--", lw=0.8)
    cycles_per_us = data[0].run.cycles_per_us
    top = axes[0].secondary_xaxis(
        "top", functions=(lambda c: c / cycles_per_us, lambda us: us * cycles_per_us)
    )
    top.set_xlabel("µs")
    axes[-1].set_xlim(start, end)
    axes[-1].set_xlabel("cycles")
    axes[-1].xaxis.set_major_formatter(EngFormatter())
    run = data[0].run
    orders = " vs ".join(panel.run.order for panel in data)
    zoom = f", layer {highlight_layer}" if highlight_layer else ""
    figure.suptitle(
        f"{run.model} {pass_title(run.pass_name)} on {run.hardware}: {orders} "
        f"(cycles {start:,.0f}–{end:,.0f}{zoom}; strip height = busy share per pixel column)"  # noqa: RUF001 (an en dash)
    )
    handles = _legend_handles(lanes)
    figure.legend(
        handles=handles, loc="outside lower center", ncol=min(len(handles), 9), fontsize=8, frameon=False
    )
    return figure


def column_polygons(columns: np.ndarray, heights: np.ndarray, bottom: float) -> np.ndarray:
    """Rectangles rising from `bottom` (the y axis grows downwards), one per run of equal nonzero
    height, as an (n, 4, 2) vertex array."""
    if not heights.size:
        return np.zeros((0, 4, 2))
    change = np.flatnonzero(np.diff(heights) != 0) + 1
    first = np.concatenate(([0], change))
    last = np.concatenate((change, [heights.size]))
    keep = heights[first] > 0
    first, last, level = first[keep], last[keep], bottom - heights[first[keep]]
    left, right = columns[first], columns[last]
    base = np.full(left.size, bottom)
    return np.stack(
        [np.column_stack(pair) for pair in ((left, base), (left, level), (right, level), (right, base))],
        axis=1,
    )


def _draw_lanes(ax: Axes, panel: GanttData, lanes: list[Lane]) -> None:
    start, end = panel.window
    pixel = (end - start) / PLOT_PIXELS
    backgrounds = [
        np.array([[start, row.y], [start, row.y + STRIP_HEIGHT], [end, row.y + STRIP_HEIGHT], [end, row.y]])
        for lane in lanes
        for row in lane.rows
    ]
    ax.add_collection(PolyCollection(backgrounds, facecolors=STRIP_BACKGROUND, linewidths=0, zorder=0.5))
    for bars in panel.bars:
        verts = column_polygons(panel.columns, drawn_heights(bars.fraction) * STRIP_HEIGHT,
                                bars.row.y + STRIP_HEIGHT)
        if verts.size:
            ax.add_collection(
                PolyCollection(list(verts), facecolors=bars.row.colour, linewidths=0, antialiased=False,
                               gid=strip_gid(bars), zorder=2)
            )
    _draw_layer_marks(ax, panel, lanes[-1].top + lanes[-1].height if lanes else 1.0)
    minor_ticks, minor_labels = (
        [row.y + STRIP_HEIGHT / 2 for lane in lanes for row in lane.rows],
        [row.label for lane in lanes for row in lane.rows],
    )
    names = [
        f"{lane.name}\n{panel.lane_busy[lane.resource]:.0%} {_busy_word(lane)}"
        if lane.resource in panel.lane_busy
        else lane.name
        for lane in lanes
    ]
    if panel.dram_lane is not None:
        _draw_dram(ax, panel, panel.dram_lane, pixel)
        names[-1] = f"DRAM {panel.dram_bandwidth_gbps:.1f} GB/s\n{panel.dram_busy_share:.0%} busy"
        minor_ticks += [panel.dram_lane.top + STRIP_HEIGHT / 2, panel.dram_lane.top + 2.0]
        minor_labels += ["busy", "util."]
    ax.set_yticks([lane.top + lane.height / 2 for lane in lanes], names, fontsize=8)
    ax.set_yticks(minor_ticks, minor_labels, minor=True)
    ax.tick_params(
        axis="y", which="minor", labelleft=False, labelright=True, left=False, right=True, labelsize=6
    )
    ax.tick_params(axis="y", which="major", left=False)
    bottom = lanes[-1].top + lanes[-1].height if lanes else 1.0
    ax.set_ylim(bottom + 0.3, -LAYER_BAND)
    run = panel.run
    shown = f"; busy shares over cycles {start:,.0f}–{panel.span_end:,.0f}" if panel.span_end < end else ""  # noqa: RUF001
    ax.set_title(
        f"{run.order}: {run.total_cycles:,.0f} cycles = "
        f"{run.total_cycles / run.cycles_per_us:,.1f} µs{shown}",
        loc="left",
        fontsize=10,
    )


def _busy_word(lane: Lane) -> str:
    return "stalled" if lane.resource.endswith(".stall") else "busy"


def _draw_layer_marks(ax: Axes, panel: GanttData, bottom: float) -> None:
    """A faint line where each layer starts; the names of the wide layers in a band above the lanes."""
    start, end = panel.window
    pixel = (end - start) / PLOT_PIXELS
    starts = [mark.start for mark in panel.layers if start <= mark.start <= end]
    if starts:
        ax.vlines(starts, -LAYER_BAND, bottom, colors=LAYER_LINE_COLOUR, linewidths=0.4, zorder=1)
    for mark in panel.layers:
        if not mark.labelled:
            continue
        left, right = max(mark.start, start), min(mark.end, end)
        fits = int((right - left) / pixel / LABEL_PIXELS_PER_CHARACTER)
        label = mark.name if len(mark.name) <= fits else mark.name[: max(fits - 1, 1)] + "…"
        ax.text((left + right) / 2, -LAYER_BAND / 2, label, ha="center", va="center", fontsize=6,
                color="#404040", clip_on=True)


def _draw_dram(ax: Axes, panel: GanttData, lane: Lane, pixel: float) -> None:
    """Busy intervals in a top strip; utilisation per bin as an area rising from the lane's bottom."""
    starts, ends = panel.dram_busy
    if starts.size:
        right = np.maximum(ends, starts + pixel)
        ax.broken_barh(
            list(zip(starts, right - starts)),
            (lane.top, STRIP_HEIGHT),
            facecolors=DRAM_BUSY_COLOUR,
            linewidths=0,
            antialiased=False,
        )
    base, height = lane.top + lane.height, lane.height - 1.0
    level = base - height * np.append(panel.dram_utilisation, panel.dram_utilisation[-1:])
    ax.fill_between(panel.dram_edges, base, level, step="post", color=DRAM_UTIL_COLOUR, alpha=0.6, lw=0)
    ax.axhline(base - height, color=DRAM_UTIL_COLOUR, lw=0.5, ls=":")


def _draw_spm(ax: Axes, panel: GanttData) -> None:
    """Allocated bytes (light: mostly LRU-cached tiles), referenced bytes over them, pinned bytes on top."""
    capacity = panel.run.spm_capacity_bytes
    unit, scale = ("MiB", 2**20) if capacity >= 2**20 else ("KiB", 2**10)
    ax.fill_between(panel.spm_cycles, panel.spm_used_bytes / scale, step="post", color=SPM_USED_COLOUR, lw=0)
    ax.fill_between(panel.spm_referenced_cycles, panel.spm_referenced_bytes / scale, step="post",
                    color=SPM_REFERENCED_COLOUR, lw=0)
    ax.fill_between(
        panel.spm_cycles, panel.spm_pinned_bytes / scale, step="post", color=SPM_PINNED_COLOUR, lw=0
    )
    ax.axhline(capacity / scale, color=SPM_CAPACITY_COLOUR, ls="--", lw=1)
    ax.set_ylim(0, capacity / scale * 1.12)
    ax.set_ylabel(f"SPM ({unit})", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)


def _legend_handles(lanes: list[Lane]) -> list:
    seen: dict[str, str] = {}
    for lane in lanes:
        for row in lane.rows:
            seen.setdefault(row.legend, row.colour)
    order = ("compute", "load", "store", "stall:")
    ordered = sorted(
        seen.items(), key=lambda item: order.index(w) if (w := item[0].split()[0]) in order else len(order)
    )
    handles: list = [Patch(color=colour, label=label) for label, colour in ordered]
    if any(lane.resource == "dram" for lane in lanes):
        handles += [
            Patch(color=DRAM_BUSY_COLOUR, label="DRAM busy"),
            Patch(color=DRAM_UTIL_COLOUR, alpha=0.6, label="DRAM bandwidth utilisation"),
        ]
    return [
        *handles,
        Patch(color=SPM_USED_COLOUR, label="SPM allocated (cached)"),
        Patch(color=SPM_REFERENCED_COLOUR, label="SPM referenced (in use)"),
        Patch(color=SPM_PINNED_COLOUR, label="SPM pinned"),
        Line2D([], [], color=SPM_CAPACITY_COLOUR, ls="--", label="SPM capacity"),
    ]
