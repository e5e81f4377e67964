"""What a Gantt chart of a run shows, as plain data: lanes, strips, merged bars, DRAM and SPM curves.

Data (`gantt_data`) is kept apart from drawing (npu_des/report/gantt_draw.py) so tests can check
exactly what is plotted. Each strip is drawn as its busy fraction per pixel column (a column's
height), so a unit that is 25% busy in a stretch looks 25% full there at any zoom; merging events
closer than a pixel would paint it solid. Busy shares are over each run's own span, so the shorter
of two stacked runs is not diluted by the time after it ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npu_des.kinds import KINDS, Direction, Op
from npu_des.metrics import CORE_UNIT
from npu_des.report.intervals import coverage_per_bin, merge_intervals, step_envelope
from npu_des.report.saved import SavedRun
from npu_des.report.spm_use import referenced_curve
from npu_des.report.style import (
    COMPUTE_COLOURS,
    DRAM_BIN_PIXELS,
    LABEL_PIXELS_PER_CHARACTER,
    LAYER_LABEL_MIN_SHARE,
    LOAD_COLOURS,
    MIN_VISIBLE_SHARE,
    OTHER_COLOUR,
    PLOT_PIXELS,
    STALL_COLOURS,
    STALL_PALETTE,
    STORE_COLOURS,
)

UNIT_RANK = {"array": 0, "vector": 1, "dma": 2, "stall": 3}
UNIT_NAMES = {"array": "array", "vector": "vector unit", "dma": "DMA", "stall": "stalls"}


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
    """One strip inside the window: merged busy intervals (cycles) and the busy fraction per pixel column
    (`GanttData.columns` are the edges), which is what the chart draws."""

    row: SubRow
    starts: np.ndarray
    ends: np.ndarray
    fraction: np.ndarray


@dataclass(frozen=True)
class LayerMark:
    """A layer's span in the run (cycles, from layers.csv); `labelled` when it is wide enough to name."""

    name: str
    start: float
    end: float
    labelled: bool


@dataclass(frozen=True)
class GanttData:
    """Everything one run's panel draws, in cycles and bytes."""

    run: SavedRun
    window: tuple[float, float]
    span_end: float  # where this run's part of the window ends: min(window end, its total cycles)
    columns: np.ndarray  # pixel column edges of the window, for Bars.fraction
    bars: list[Bars]
    lane_busy: dict[str, float]  # resource -> busy share of [window start, span_end] (union of its strips)
    layers: list[LayerMark]
    dram_lane: Lane | None
    dram_busy: tuple[np.ndarray, np.ndarray]
    dram_edges: np.ndarray                # utilisation bins
    dram_utilisation: np.ndarray  # busy fraction per bin = bytes moved / (bin cycles x peak bytes/cycle)
    dram_busy_share: float  # busy share of [window start, span_end]
    dram_bandwidth_gbps: float  # peak, recovered as bytes / busy cycles
    spm_cycles: np.ndarray  # step curve ('post'), per-bin maximum when downsampled
    spm_used_bytes: np.ndarray  # allocated: referenced + cached + pinned
    spm_pinned_bytes: np.ndarray
    spm_referenced_cycles: np.ndarray  # step curve of the bytes in use (npu_des/report/spm_use.py)
    spm_referenced_bytes: np.ndarray


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
            return (int(match.group(1)), UNIT_RANK.get(match.group(2), len(UNIT_RANK)), resource)
        return (1 << 30, 0, resource)

    kind_rank: dict[str, int] = {kind: rank for rank, kind in enumerate(KINDS)}
    reasons = sorted({kind for resource, present in keys.items() if resource.endswith(".stall")
                      for kind, _ in present})
    stall_colours = {reason: stall_colour(reason, index) for index, reason in enumerate(reasons)}
    lanes, top = [], 0.0
    for resource in sorted(keys, key=resource_rank):
        present = sorted(keys[resource], key=lambda k: (k[1] == Direction.WRITE, kind_rank.get(k[0], 99), k))
        if resource.endswith(".array") and not present:
            present = [(Op.DX, ""), (Op.DW, "")]
        rows = tuple(
            _sub_row(resource, key, top + index, stall_colours) for index, key in enumerate(present)
        )
        match = CORE_UNIT.match(resource)
        name = f"core{match.group(1)} {UNIT_NAMES.get(match.group(2), match.group(2))}" if match else resource
        lanes.append(Lane(resource, name, top, max(len(rows), 1), rows))
        top += max(len(rows), 1) + 0.6
    if dram is not None:
        lanes.append(Lane("dram", "DRAM channel", top, 3.0, ()))
    return lanes


def _sub_row(resource: str, key: tuple[str, str], y: float, stall_colours: dict[str, str]) -> SubRow:
    kind, direction = key
    if resource.endswith(".stall"):  # kind is the stall reason
        return SubRow(resource, key, kind, f"stall: {kind}", stall_colours[kind], y)
    if direction == Direction.READ:
        return SubRow(resource, key, f"load {kind}", f"load {kind}", LOAD_COLOURS.get(kind, OTHER_COLOUR), y)
    if direction == Direction.WRITE:
        return SubRow(
            resource, key, f"store {kind}", f"store {kind}", STORE_COLOURS.get(kind, OTHER_COLOUR), y
        )
    return SubRow(resource, key, kind, f"compute {kind}", COMPUTE_COLOURS.get(kind, OTHER_COLOUR), y)


def drawn_heights(fraction: np.ndarray) -> np.ndarray:
    """Column heights (share of a strip) for busy fractions: the fraction itself, but at least
    MIN_VISIBLE_SHARE where anything ran, so an isolated short transfer still shows."""
    return np.where(fraction > 0, np.maximum(fraction, MIN_VISIBLE_SHARE), 0.0)


def stall_colour(reason: str, index: int) -> str:
    """A stall reason's colour: STALL_COLOURS, else the palette entry of its rank among the run's reasons."""
    return STALL_COLOURS.get(reason, STALL_PALETTE[index % len(STALL_PALETTE)])


def layer_marks(
    run: SavedRun, window: tuple[float, float], pixels: int = PLOT_PIXELS
) -> list[LayerMark]:
    """Layers whose span meets the window, by start. The widest ones (at least LAYER_LABEL_MIN_SHARE of
    the view) are labelled, as long as their names, centred in their spans, do not collide."""
    start, end = window
    spans = []
    for row in run.layers:
        try:
            first, last = float(row["start"]), float(row["end"])
        except (KeyError, ValueError):
            continue
        if last > first and last >= start and first <= end:
            spans.append((row["layer"], first, last))
    spans.sort(key=lambda span: (span[1], span[2]))
    cycles_per_character = (end - start) / pixels * LABEL_PIXELS_PER_CHARACTER
    taken: list[tuple[float, float]] = []
    chosen = set()
    for name, first, last in sorted(spans, key=lambda span: span[1] - span[2]):  # widest first
        left, right = max(first, start), min(last, end)
        if right - left < LAYER_LABEL_MIN_SHARE * (end - start):
            continue
        half = min(right - left, (len(name) + 1) * cycles_per_character) / 2
        centre = (left + right) / 2
        if all(centre + half <= lo or centre - half >= hi for lo, hi in taken):
            taken.append((centre - half, centre + half))
            chosen.add(name)
    return [LayerMark(name, first, last, name in chosen) for name, first, last in spans]


def gantt_data(
    run: SavedRun, lanes: list[Lane], window: tuple[float, float], pixels: int = PLOT_PIXELS
) -> GanttData:
    """Busy fraction per pixel column of each strip, DRAM utilisation per bin, SPM curves, layer marks."""
    start, end = window
    pixel = (end - start) / pixels
    span_end = max(min(end, run.total_cycles), start)
    columns = np.linspace(start, end, pixels + 1)
    events: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    dram_starts, dram_ends, dma_bytes = [], [], 0
    for event in run.timeline:
        if event.resource == "dram":
            dram_starts.append(event.start)
            dram_ends.append(event.end)
            continue
        if event.direction:
            dma_bytes += event.bytes
        if event.end >= start and event.start <= end:
            strip = events.setdefault((event.resource, event.kind, event.direction), ([], []))
            strip[0].append(event.start)
            strip[1].append(event.end)
    bars = []
    lane_busy: dict[str, float] = {}
    for lane in lanes:
        lane_starts, lane_ends = [], []
        for row in lane.rows:
            starts, ends = (
                np.clip(np.asarray(c, dtype=np.float64), start, end)
                for c in events.get((row.resource, *row.key), ([], []))
            )
            merged_starts, merged_ends = merge_intervals(starts, ends, pixel)
            bars.append(Bars(row, merged_starts, merged_ends, coverage_per_bin(starts, ends, columns)))
            lane_starts.append(starts)
            lane_ends.append(ends)
        if lane.rows:
            lane_busy[lane.resource] = _share(np.concatenate(lane_starts), np.concatenate(lane_ends),
                                              start, span_end)
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
    if spm_end > start:
        ref_cycles, ref_bytes = referenced_curve(run.timeline)
        ref_x, ref_y = step_envelope(ref_cycles, ref_bytes, start, spm_end, pixels)
    else:
        ref_x, ref_y = np.zeros(0), np.zeros(0, dtype=np.int64)
    dram_lane = next((lane for lane in lanes if lane.resource == "dram"), None)
    return GanttData(
        run=run,
        window=window,
        span_end=span_end,
        columns=columns,
        bars=bars,
        lane_busy=lane_busy,
        layers=layer_marks(run, window, pixels),
        dram_lane=dram_lane,
        dram_busy=shown,
        dram_edges=edges,
        dram_utilisation=coverage_per_bin(busy_starts, busy_ends, edges),
        dram_busy_share=_share(busy_starts, busy_ends, start, span_end),
        dram_bandwidth_gbps=bandwidth,
        spm_cycles=spm_x,
        spm_used_bytes=spm_used,
        spm_pinned_bytes=spm_pinned,
        spm_referenced_cycles=ref_x,
        spm_referenced_bytes=ref_y,
    )


def _share(starts: np.ndarray, ends: np.ndarray, start: float, end: float) -> float:
    """Fraction of [start, end] covered by the union of the intervals (0 for an empty span)."""
    if end <= start:
        return 0.0
    return float(coverage_per_bin(starts, ends, np.array([start, end]))[0])
