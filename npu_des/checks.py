"""Post-hoc invariant checks of a finished run: what must hold whatever the schedule or policy.

`check_run` re-derives the plan (tiles, tasks, graph) independently of the simulation and
compares it with what the RunResult recorded, so a bug in a component (a DRAM channel that
miscounts, an SPM that over-allocates, an executor that ignores a dependency) shows up as a
named violation instead of a plausible-looking number. It reads only the RunResult, never a
component's internals, and costs a few passes over the timeline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import pairwise

from npu_des.config import HardwareConfig, RunOptions
from npu_des.hw.systolic_array import gemm_cycles
from npu_des.metrics import DIRECTIONS, RunResult, TimelineEvent, kinds_of
from npu_des.schedule import Schedule
from npu_des.sim import plan
from npu_des.workload import Layer, Workload, backward_graph, forward_graph

MAX_PER_CHECK = 5  # violations listed per check; the rest are counted


def _close_below(value: float, bound: float) -> bool:
    """`value < bound` beyond float noise (DRAM completion times come from a virtual clock)."""
    return value < bound - 1e-9 * max(1.0, abs(bound))


def _capped(messages: Iterable[str]) -> list[str]:
    """The first few violations of one check, then a count, so a systematic bug stays readable."""
    items = list(messages)
    if len(items) > MAX_PER_CHECK:
        label = items[0].partition(":")[0]
        return items[:MAX_PER_CHECK] + [f"{label}: ... and {len(items) - MAX_PER_CHECK} more like the above"]
    return items


def _tile_id(layer: str, op: str, tile: str) -> str:
    return f"{op} tile {tile} of layer '{layer}'"


def rebuild_schedule(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> Schedule:
    """The schedule the run should have executed, planned again from its inputs (no SimPy)."""
    partitions = {name: choice["partition"] for name, choice in result.choices.items() if "partition" in choice}
    schedule, _ = plan(workload, hw, options, partitions or None)
    return schedule


def check_run(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> list[str]:
    """Every invariant violation of `result` as one line each; an empty list means the run is consistent."""
    schedule = rebuild_schedule(result, workload, hw, options)
    computes = [event for event in result.timeline if event.resource.endswith(".array")]
    transfers = [event for event in result.timeline if event.resource.endswith(".dma")]
    violations: list[str] = []
    violations += check_spm(result, hw)
    violations += check_byte_conservation(result, transfers)
    violations += check_transfers(result, hw, transfers)
    violations += check_partial_sum_hazards(transfers)
    violations += check_tiles(result, schedule, hw, computes)
    violations += check_one_tile_at_a_time(computes)
    violations += check_dependencies(result, workload, computes)
    violations += check_partial_sum_order(schedule, computes)
    violations += check_lower_bounds(result, schedule, hw, computes, transfers)
    return violations


def check_spm(result: RunResult, hw: HardwareConfig) -> list[str]:
    """SPM occupancy never exceeds the configured capacity, and pinned bytes are part of used bytes."""
    capacity = hw.spm.capacity_bytes
    out = []
    if result.spm_capacity_bytes != capacity:
        out.append(f"SPM: run reports capacity {result.spm_capacity_bytes} B, hardware has {capacity} B")
    if result.spm_peak_bytes > capacity:
        out.append(f"SPM: peak {result.spm_peak_bytes} B exceeds capacity {capacity} B")
    samples = []
    for cycle, used, pinned in result.spm_occupancy:
        if used > capacity or used < 0:
            samples.append(f"SPM: {used} B in use at cycle {cycle:.0f} (capacity {capacity} B)")
        if not 0 <= pinned <= used:
            samples.append(f"SPM: {pinned} B pinned but {used} B in use at cycle {cycle:.0f}")
    peak = max((used for _, used, _ in result.spm_occupancy), default=0)
    if peak != result.spm_peak_bytes:
        samples.append(f"SPM: reported peak {result.spm_peak_bytes} B but occupancy samples peak at {peak} B")
    return out + _capped(samples)


def check_byte_conservation(result: RunResult, transfers: list[TimelineEvent]) -> list[str]:
    """Bytes the DMA engines moved == bytes the DRAM channel counted == bytes the layer rows report."""
    kinds = kinds_of(result.dram_bytes)
    moved = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for event in transfers:
        moved[event.direction][event.kind] += event.bytes
    by_layers = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for row in result.layers:
        for kind in kinds:
            by_layers["read"][kind] += row.read_bytes.get(kind, 0)
            by_layers["write"][kind] += row.write_bytes.get(kind, 0)
    out = []
    for direction in DIRECTIONS:
        for kind in kinds:
            channel = result.dram_bytes.get(direction, {}).get(kind, 0)
            if moved[direction][kind] != channel:
                out.append(f"bytes: DMA transfers {direction} {moved[direction][kind]} B of {kind}, "
                           f"DRAM channel counted {channel} B")
            if by_layers[direction][kind] != channel:
                out.append(f"bytes: layer rows {direction} {by_layers[direction][kind]} B of {kind}, "
                           f"DRAM channel counted {channel} B")
    return out


def check_transfers(result: RunResult, hw: HardwareConfig, transfers: list[TimelineEvent]) -> list[str]:
    """No transfer beats the channel (latency + bytes / bandwidth), the channel never exceeds its bandwidth,
    and no DMA engine has more transfers in flight than it has slots."""
    bytes_per_cycle = hw.dram_bytes_per_cycle
    latency = hw.dram.latency_cycles
    fast = [f"DMA: {event.direction} of {event.bytes} B ({event.kind} tile {event.tile} of '{event.layer}') "
            f"took {event.duration:.1f} cycles, less than latency + bytes/bandwidth = "
            f"{latency + event.bytes / bytes_per_cycle:.1f}"
            for event in transfers if _close_below(event.duration, latency + event.bytes / bytes_per_cycle)]
    out = _capped(fast)
    busy = sum(event.duration for event in result.timeline if event.resource == "dram")
    total = result.total_dram_bytes
    if total > bytes_per_cycle * busy * (1 + 1e-9) + 1e-6:
        out.append(f"DRAM: {total} B moved in {busy:.1f} busy cycles, more than {bytes_per_cycle:.3f} B/cycle allows")
    per_core: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for event in transfers:
        per_core[event.resource] += [(event.start, 1), (event.end, -1)]
    limit = hw.cores.dma.outstanding
    for resource, edges in sorted(per_core.items()):
        in_flight = 0
        for time, step in sorted(edges):  # at equal times an end (-1) sorts before a start (+1)
            in_flight += step
            if in_flight > limit:
                out.append(f"DMA: {resource} has {in_flight} transfers in flight at cycle {time:.0f} "
                           f"(outstanding limit {limit})")
                break
    return out


def check_partial_sum_hazards(transfers: list[TimelineEvent]) -> list[str]:
    """A partial sum (dX/dW tile) read back from DRAM must not start before its write-back has finished,
    or the read would see stale data."""
    writes: dict[tuple[str, str, str], list[TimelineEvent]] = defaultdict(list)
    reads: list[TimelineEvent] = []
    for event in transfers:
        if event.kind in ("dX", "dW"):
            (writes[(event.layer, event.kind, event.tile)] if event.direction == "write" else reads).append(event)
    hazards = []
    for read in reads:
        for write in writes.get((read.layer, read.kind, read.tile), ()):
            if write.start <= read.start and _close_below(read.start, write.end):
                hazards.append(f"hazard: {read.kind} tile {read.tile} of '{read.layer}' read back at cycle "
                               f"{read.start:.0f} while its write-back runs until {write.end:.0f}")
        if not any(write.start <= read.start for write in writes.get((read.layer, read.kind, read.tile), ())):
            hazards.append(f"hazard: {read.kind} tile {read.tile} of '{read.layer}' read from DRAM at cycle "
                           f"{read.start:.0f} before any write of it")
    return _capped(hazards)


def check_tiles(result: RunResult, schedule: Schedule, hw: HardwareConfig,
                computes: list[TimelineEvent]) -> list[str]:
    """Every scheduled tile computed exactly once, on its core, for the cycles the SCALE-Sim formula gives."""
    array = hw.cores.array
    planned = {(task.layer, task.op, ".".join(map(str, task.tile))): task for task in schedule.tasks}
    seen = Counter((event.layer, event.op, event.tile) for event in computes)
    twice = [f"tiles: {_tile_id(*key)} computed {count} times" for key, count in seen.items() if count > 1]
    extra = [f"tiles: {_tile_id(*key)} computed but not scheduled" for key in seen if key not in planned]
    missing = [f"tiles: {_tile_id(*key)} scheduled but never computed" for key in planned if key not in seen]
    wrong = []
    planned_cycles = 0
    cycles_of: dict[tuple[int, int, int, int], int] = {}
    for task in schedule.tasks:
        if task.extents not in cycles_of:
            groups, rows, reduction, cols = task.extents
            cycles_of[task.extents] = groups * gemm_cycles(rows, reduction, cols, array.rows, array.cols,
                                                           array.dataflow)
        planned_cycles += cycles_of[task.extents]
    for event in computes:
        task = planned.get((event.layer, event.op, event.tile))
        if task is None:
            continue
        if event.resource != f"core{task.core}.array":
            wrong.append(f"tiles: {_tile_id(event.layer, event.op, event.tile)} ran on {event.resource}, "
                         f"scheduled on core{task.core}")
        if abs(event.duration - cycles_of[task.extents]) > 1e-6:
            wrong.append(f"tiles: {_tile_id(event.layer, event.op, event.tile)} took {event.duration:.1f} cycles, "
                         f"the formula gives {cycles_of[task.extents]}")
    out = _capped(twice) + _capped(extra) + _capped(missing) + _capped(wrong)
    if result.compute_cycles != planned_cycles:
        out.append(f"compute: arrays report {result.compute_cycles} busy cycles, the schedule needs {planned_cycles}")
    expected_macs = sum(layer.gemm.macs * (2 if layer.has_input_gradient else 1) for layer in schedule_layers(schedule))
    if result.macs != expected_macs:
        out.append(f"compute: {result.macs} MACs done, the backward pass has {expected_macs}")
    return out


def schedule_layers(schedule: Schedule) -> list[Layer]:
    """The layers the schedule covers (its tile grids), in no particular order."""
    return [grid.layer for grid in schedule.grids.values()]


def check_one_tile_at_a_time(computes: list[TimelineEvent]) -> list[str]:
    """A systolic array computes one tile at a time: its busy intervals never overlap."""
    by_array: dict[str, list[TimelineEvent]] = defaultdict(list)
    for event in computes:
        by_array[event.resource].append(event)
    out = []
    for resource, events in sorted(by_array.items()):
        events.sort(key=lambda event: (event.start, event.end))
        for before, after in pairwise(events):
            if _close_below(after.start, before.end):
                out.append(f"compute: {resource} starts {_tile_id(after.layer, after.op, after.tile)} at "
                           f"{after.start:.0f} before {_tile_id(before.layer, before.op, before.tile)} ends at "
                           f"{before.end:.0f}")
    return _capped(out)


def check_dependencies(result: RunResult, workload: Workload, computes: list[TimelineEvent]) -> list[str]:
    """No tile of a layer's ops starts before every consumer layer's dX op has ended (its dY is ready)."""
    backward = backward_graph(forward_graph(workload))
    rows = {row.layer: row for row in result.layers}
    first_start: dict[tuple[str, str], TimelineEvent] = {}
    for event in computes:
        op = (event.layer, event.op)
        if op not in first_start or event.start < first_start[op].start:
            first_start[op] = event
    out = []
    for op, event in sorted(first_start.items()):
        if op not in backward:
            out.append(f"deps: {_tile_id(event.layer, event.op, event.tile)} belongs to no backward op")
            continue
        for producer_layer, producer_op in backward.predecessors(op):
            row = rows.get(producer_layer)
            end = row.dX_end if row is not None else float("inf")
            if _close_below(event.start, end):
                out.append(f"deps: {_tile_id(event.layer, event.op, event.tile)} starts at cycle {event.start:.0f}, "
                           f"before {producer_op} of '{producer_layer}' (its dY) ends at {end:.0f}")
    return _capped(out)


def check_partial_sum_order(schedule: Schedule, computes: list[TimelineEvent]) -> list[str]:
    """Contributions to one output tile accumulate in schedule order: each starts after the previous ended."""
    by_task = {(event.layer, event.op, event.tile): event for event in computes}
    tasks = schedule.tasks
    out = []
    for task in tasks:
        if task.prev < 0:
            continue
        event = by_task.get((task.layer, task.op, ".".join(map(str, task.tile))))
        previous = tasks[task.prev]
        before = by_task.get((previous.layer, previous.op, ".".join(map(str, previous.tile))))
        if event is not None and before is not None and _close_below(event.start, before.end):
            out.append(f"order: {_tile_id(event.layer, event.op, event.tile)} starts at {event.start:.0f}, before "
                       f"the previous contribution ({_tile_id(before.layer, before.op, before.tile)}) ends at "
                       f"{before.end:.0f}")
    return _capped(out)


def check_lower_bounds(result: RunResult, schedule: Schedule, hw: HardwareConfig,
                       computes: list[TimelineEvent], transfers: list[TimelineEvent]) -> list[str]:
    """Run and every layer take at least max(compute cycles / cores, compulsory bytes / bytes-per-cycle).

    A layer's window runs from its first activity (a load may precede its first compute) to its last
    (the final write-back), so the bound holds however layers overlap.
    """
    array, cores, bytes_per_cycle = hw.cores.array, hw.cores.count, hw.dram_bytes_per_cycle
    layer_cycles: dict[str, int] = defaultdict(int)
    for task in schedule.tasks:
        groups, rows, reduction, cols = task.extents
        layer_cycles[task.layer] += groups * gemm_cycles(rows, reduction, cols, array.rows, array.cols,
                                                         array.dataflow)
    compulsory = {name: sum(grid.compulsory_bytes().values()) for name, grid in schedule.grids.items()}
    out = []
    bound = max(sum(layer_cycles.values()) / cores, sum(compulsory.values()) / bytes_per_cycle)
    if _close_below(result.total_cycles, bound):
        out.append(f"bound: run took {result.total_cycles:.0f} cycles, below the lower bound {bound:.0f}")
    if _close_below(result.lower_bound_cycles, bound) or _close_below(bound, result.lower_bound_cycles):
        out.append(f"bound: run reports lower bound {result.lower_bound_cycles:.0f}, the plan gives {bound:.0f}")
    window: dict[str, list[float]] = {}
    for event in (*computes, *transfers):
        span = window.setdefault(event.layer, [event.start, event.end])
        span[0] = min(span[0], event.start)
        span[1] = max(span[1], event.end)
    for row in result.layers:
        span = window.get(row.layer)
        if span is None:
            continue
        end = max(span[1], row.end)
        layer_bound = max(layer_cycles.get(row.layer, 0) / cores, compulsory.get(row.layer, 0) / bytes_per_cycle)
        if _close_below(end - span[0], layer_bound):
            out.append(f"bound: layer '{row.layer}' active {end - span[0]:.0f} cycles, below its lower bound "
                       f"{layer_bound:.0f}")
    return _capped(out)
