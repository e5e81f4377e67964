"""SPM bytes in use (referenced) over time, rebuilt from a saved timeline.

The SPM occupancy records hold allocated and pinned bytes. Under LRU the allocated curve sits at the
capacity most of the run, because unreferenced tiles stay cached until space is needed; what the
cores actually hold is the referenced part. A tile is referenced while a DMA transfer moves it and
while a compute task that reads or accumulates it runs, from the load that brought it in for that
task (if any) to the task's end. The operand tiles of a compute task follow the tile keys of
npu_des/schedule/tasks.py (TaskList): tests/report/test_spm_use.py checks them against a real schedule.

A cache hit acquired early by prefetch counts only from its task's start, and a tile that never
crosses DRAM (a fused or pinned feature map) has no known size and counts 0, so the curve is a lower
bound of the referenced bytes; it never exceeds the allocated bytes in practice (tested).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from npu_des.kinds import Op, TensorKind
from npu_des.metrics import CORE_UNIT, TimelineEvent

# Compute op -> (tensor kind, which two of the task tile's (g, m, n, k) index the operand's key).
OPERANDS: dict[str, tuple[tuple[str, tuple[int, int]], ...]] = {
    Op.DX: ((TensorKind.DY, (1, 2)), (TensorKind.W, (2, 3)), (TensorKind.DX, (1, 3))),
    Op.DW: ((TensorKind.X, (1, 3)), (TensorKind.DY, (1, 2)), (TensorKind.DW, (2, 3))),
    Op.Y: ((TensorKind.X, (1, 3)), (TensorKind.W, (2, 3)), (TensorKind.Y, (1, 2))),
    Op.VECTOR: ((TensorKind.Y, (1, 2)), (TensorKind.DY, (1, 2))),
}

TileId = tuple[str, str, str]  # (layer, tensor kind, "g.row.col") as the DMA events spell it


def operand_tiles(op: str, tile: str) -> list[tuple[str, str]]:
    """(tensor kind, "g.row.col") of the tiles a compute task on TileIndex "g.m.n.k" reads or writes."""
    parts = tile.split(".")
    if op not in OPERANDS or len(parts) != 4:
        return []
    return [(kind, f"{parts[0]}.{parts[a]}.{parts[b]}") for kind, (a, b) in OPERANDS[op]]


def referenced_intervals(timeline: Iterable[TimelineEvent]) -> dict[TileId, list[tuple[float, float]]]:
    """Per tile, the intervals it is referenced: every transfer, and every compute use from its load."""
    loads: dict[TileId, list[float]] = {}
    intervals: dict[TileId, list[tuple[float, float]]] = {}
    computes: list[TimelineEvent] = []
    for event in timeline:
        if event.direction:
            tile_id = (event.layer, event.kind, event.tile)
            intervals.setdefault(tile_id, []).append((event.start, event.end))
            if event.direction == "read":
                loads.setdefault(tile_id, []).append(event.start)
        elif (match := CORE_UNIT.match(event.resource)) and match.group(2) in ("array", "vector"):
            computes.append(event)
    for starts in loads.values():
        starts.sort()
    for event in computes:
        for kind, key in operand_tiles(event.op or event.kind, event.tile):
            tile_id = (event.layer, kind, key)
            held_from = event.start
            load_starts = loads.get(tile_id)
            if load_starts:
                index = int(np.searchsorted(load_starts, event.start, side="right")) - 1
                if index >= 0:
                    held_from = min(held_from, load_starts[index])
            intervals.setdefault(tile_id, []).append((held_from, event.end))
    return intervals


def tile_bytes(timeline: Iterable[TimelineEvent]) -> dict[TileId, int]:
    """Bytes of each tile that crossed DRAM (the largest transfer of it)."""
    sizes: dict[TileId, int] = {}
    for event in timeline:
        if event.direction:
            tile_id = (event.layer, event.kind, event.tile)
            sizes[tile_id] = max(sizes.get(tile_id, 0), event.bytes)
    return sizes


def referenced_curve(timeline: list[TimelineEvent]) -> tuple[np.ndarray, np.ndarray]:
    """(cycles, referenced bytes from each cycle on) as a step curve, like the occupancy records."""
    sizes = tile_bytes(timeline)
    times: list[float] = []
    deltas: list[int] = []
    for tile_id, spans in referenced_intervals(timeline).items():
        size = sizes.get(tile_id, 0)
        if not size:
            continue
        spans.sort()
        open_start, open_end = spans[0]
        for start, end in spans[1:]:  # union per tile: a tile held by two tasks counts once
            if start > open_end:
                times += [open_start, open_end]
                deltas += [size, -size]
                open_start, open_end = start, end
            else:
                open_end = max(open_end, end)
        times += [open_start, open_end]
        deltas += [size, -size]
    if not times:
        return np.zeros(1), np.zeros(1, dtype=np.int64)
    order = np.lexsort((np.asarray(deltas), np.asarray(times)))  # releases before grabs at equal times
    cycles = np.asarray(times, dtype=np.float64)[order]
    level = np.cumsum(np.asarray(deltas, dtype=np.int64)[order])
    last_at_time = np.append(cycles[1:] != cycles[:-1], True)
    return np.concatenate(([0.0], cycles[last_at_time])), np.concatenate(([0], level[last_at_time]))
