"""What a Gantt chart of a run shows, as plain data: lanes, strips, merged bars, DRAM and SPM curves.

Data (`gantt_data`) is kept apart from drawing (npu_des/report/gantt_draw.py) so tests can check
exactly what is plotted. Events narrower than a pixel are merged per strip, so a whole ResNet-50
timeline draws in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npu_des.kinds import KINDS, Direction, Op
from npu_des.metrics import CORE_UNIT
from npu_des.report.intervals import coverage_per_bin, merge_intervals, step_envelope
from npu_des.report.saved import SavedRun
from npu_des.report.style import (
    COMPUTE_COLOURS,
    DRAM_BIN_PIXELS,
    LOAD_COLOURS,
    OTHER_COLOUR,
    PLOT_PIXELS,
    STORE_COLOURS,
)


@dataclass(frozen=True)
class SubRow:
    """One horizontal strip of a lane: the events of one key (op kind, or direction + tensor kind)."""

    resource: str
    key: tuple[str, str]      # (kind, direction) as in TimelineEvent
    label: str                # short label at the right edge
    legend: str               # legend entry, shared by equal-coloured strips on other cores
    colour: str
    y: float                  # top of the strip (the y axis grows downwards)


@dataclass(frozen=True)
class Lane:
    """One resource (a core's systolic array or DMA engine, or the DRAM channel) and its strips."""

    resource: str
    name: str
    top: float
    height: float
    rows: tuple[SubRow, ...]


@dataclass(frozen=True)
class Bars:
    """Merged busy intervals of one strip inside the window (cycles)."""

    row: SubRow
    starts: np.ndarray
    ends: np.ndarray


@dataclass(frozen=True)
class GanttData:
    """Everything one run's panel draws, in cycles and bytes."""

    run: SavedRun
    window: tuple[float, float]
    bars: list[Bars]
    dram_lane: Lane | None
    dram_busy: tuple[np.ndarray, np.ndarray]
    dram_edges: np.ndarray                # utilisation bins
    dram_utilisation: np.ndarray  # busy fraction per bin = bytes moved / (bin cycles x peak bytes/cycle)
    dram_bandwidth_gbps: float  # peak, recovered as bytes / busy cycles
    spm_cycles: np.ndarray  # step curve ('post'), per-bin maximum when downsampled
    spm_used_bytes: np.ndarray
    spm_pinned_bytes: np.ndarray


def lane_layout(runs: list[SavedRun]) -> list[Lane]:
    """Lanes and strips for the union of the runs, so stacked panels line up strip for strip."""
    keys: dict[str, set[tuple[str, str]]] = {}
    for run in runs:
        for core in range(run.cores):
            keys.setdefault(f"core{core}.array", set())
            keys.setdefault(f"core{core}.dma", set())
        for event in run.timeline:
            keys.setdefault(event.resource, set()).add((event.kind, event.direction))
    dram = keys.pop("dram", None)

    def resource_rank(resource: str) -> tuple[int, int, str]:
        match = CORE_UNIT.match(resource)
        if match:
            return (int(match.group(1)), {"array": 0, "dma": 1}.get(match.group(2), 2), resource)
        return (1 << 30, 0, resource)

    kind_rank: dict[str, int] = {kind: rank for rank, kind in enumerate(KINDS)}
    lanes, top = [], 0.0
    for resource in sorted(keys, key=resource_rank):
        present = sorted(keys[resource], key=lambda k: (k[1] == Direction.WRITE, kind_rank.get(k[0], 99), k))
        if resource.endswith(".array") and not present:
            present = [(Op.DX, ""), (Op.DW, "")]
        rows = tuple(_sub_row(resource, key, top + index) for index, key in enumerate(present))
        name = resource.replace(".array", " array").replace(".dma", " DMA")
        lanes.append(Lane(resource, name, top, max(len(rows), 1), rows))
        top += max(len(rows), 1) + 0.6
    if dram is not None:
        lanes.append(Lane("dram", "DRAM channel", top, 3.0, ()))
    return lanes


def _sub_row(resource: str, key: tuple[str, str], y: float) -> SubRow:
    kind, direction = key
    if direction == Direction.READ:
        return SubRow(resource, key, f"load {kind}", f"load {kind}", LOAD_COLOURS.get(kind, OTHER_COLOUR), y)
    if direction == Direction.WRITE:
        return SubRow(
            resource, key, f"store {kind}", f"store {kind}", STORE_COLOURS.get(kind, OTHER_COLOUR), y
        )
    return SubRow(resource, key, kind, f"compute {kind}", COMPUTE_COLOURS.get(kind, OTHER_COLOUR), y)


def gantt_data(
    run: SavedRun, lanes: list[Lane], window: tuple[float, float], pixels: int = PLOT_PIXELS
) -> GanttData:
    """Merge each strip's events to pixel resolution, bin DRAM utilisation, envelope the SPM curve."""
    start, end = window
    pixel = (end - start) / pixels
    columns: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    dram_starts, dram_ends, dma_bytes = [], [], 0
    for event in run.timeline:
        if event.resource == "dram":
            dram_starts.append(event.start)
            dram_ends.append(event.end)
            continue
        if event.direction:
            dma_bytes += event.bytes
        if event.end >= start and event.start <= end:
            column = columns.setdefault((event.resource, event.kind, event.direction), ([], []))
            column[0].append(event.start)
            column[1].append(event.end)
    bars = []
    for lane in lanes:
        for row in lane.rows:
            starts, ends = (
                np.asarray(c, dtype=np.float64) for c in columns.get((row.resource, *row.key), ([], []))
            )
            merged_starts, merged_ends = merge_intervals(
                np.clip(starts, start, end), np.clip(ends, start, end), pixel
            )
            bars.append(Bars(row, merged_starts, merged_ends))
    busy_starts, busy_ends = (
        np.asarray(dram_starts, dtype=np.float64),
        np.asarray(dram_ends, dtype=np.float64),
    )
    busy_cycles = float(np.sum(busy_ends - busy_starts))
    total_bytes = float(run.summary.get("total_dram_bytes", dma_bytes))
    bandwidth = total_bytes / busy_cycles * run.cycles_per_us / 1e3 if busy_cycles else 0.0
    edges = np.linspace(start, end, max(pixels // DRAM_BIN_PIXELS, 1) + 1)
    in_window = (busy_ends >= start) & (busy_starts <= end)
    shown = merge_intervals(
        np.clip(busy_starts[in_window], start, end), np.clip(busy_ends[in_window], start, end), pixel
    )
    spm_end = min(end, run.total_cycles)  # the curve stops where the run does
    if spm_end > start:
        spm_x, spm_used = step_envelope(run.spm_cycles, run.spm_used_bytes, start, spm_end, pixels)
        _, spm_pinned = step_envelope(run.spm_cycles, run.spm_pinned_bytes, start, spm_end, pixels)
    else:
        spm_x, spm_used, spm_pinned = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dram_lane = next((lane for lane in lanes if lane.resource == "dram"), None)
    return GanttData(
        run,
        window,
        bars,
        dram_lane,
        shown,
        edges,
        coverage_per_bin(busy_starts, busy_ends, edges),
        bandwidth,
        spm_x,
        spm_used,
        spm_pinned,
    )
