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

from npu_des.analysis.replay import rebuild_schedule
from npu_des.config import HardwareConfig, RunOptions
from npu_des.kinds import DIRECTIONS, Direction, Op, OpId, TensorKind, TileKey
from npu_des.metrics import RunResult, TimelineEvent, kinds_of
from npu_des.schedule.compulsory import compulsory_traffic
from npu_des.schedule.tasks import Schedule, TileTask
from npu_des.schedule.tile_deps import readers
from npu_des.sim.components.systolic_array import SystolicArray
from npu_des.sim.components.vector_unit import VectorUnit
from npu_des.sim.scalesim_run import ops_in_order
from npu_des.sim.training import halves
from npu_des.tiling.compute_model import REPORT_OFFSET, fold_overhead, gemm_cycles, op_dataflow
from npu_des.workload import Workload, backward_graph, forward_graph
from npu_des.workload.graph import consumers_of

MAX_PER_CHECK = 5  # violations listed per check; the rest are counted


def _close_below(value: float, bound: float) -> bool:
    """`value < bound` beyond float noise (DRAM completion times come from a virtual clock)."""
    return value < bound - 1e-9 * max(1.0, abs(bound))


def _capped(messages: Iterable[str]) -> list[str]:
    """The first few violations of one check, then a count, so a systematic bug stays readable."""
    items = list(messages)
    if len(items) > MAX_PER_CHECK:
        label = items[0].partition(":")[0]
        return [*items[:MAX_PER_CHECK], f"{label}: ... and {len(items) - MAX_PER_CHECK} more like the above"]
    return items


def _tile_id(layer: str, op: str, tile: str) -> str:
    return f"{op} tile {tile} of layer '{layer}'"


def check_run(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> list[str]:
    """Every invariant violation of `result` as one line each; an empty list means the run is consistent.

    A training step is checked half by half, and against the sum of its halves."""
    if result.passes:
        return check_training(result, workload, hw)
    if options.memory_model == "scalesim":
        return check_scalesim_run(result, workload, hw, options)
    schedule = rebuild_schedule(result, workload, hw, options)
    computes = [event for event in result.timeline if event.resource.endswith((".array", ".vector"))]
    transfers = [event for event in result.timeline if event.resource.endswith(".dma")]
    expected = expected_cycles(schedule, hw, computes)
    violations: list[str] = []
    violations += check_spm(result, hw)
    violations += check_byte_conservation(result, transfers)
    violations += check_transfers(result, hw, transfers)
    violations += check_partial_sum_hazards(transfers)
    violations += check_tiles(result, schedule, workload, options, computes, expected)
    violations += check_one_tile_at_a_time(computes)
    violations += check_dependencies(result, workload, options, schedule, computes)
    violations += check_partial_sum_order(schedule, computes)
    violations += check_tile_dependencies(schedule, computes, transfers)
    violations += check_lower_bounds(result, schedule, options, hw, computes, transfers, expected)
    return violations


def check_training(result: RunResult, workload: Workload, hw: HardwareConfig) -> list[str]:
    """Each half's violations (prefixed with its pass), and a step that is not the sum of its halves."""
    parts = halves(result)
    violations = [f"{name} half: {line}" for name, half, options in parts
                  for line in check_run(half, workload, hw, options)]
    if result.total_cycles != sum(half.total_cycles for _, half, _ in parts):
        violations.append(f"training step of {result.total_cycles:.0f} cycles is not the sum of its halves")
    for direction, kinds in result.dram_bytes.items():
        for kind, nbytes in kinds.items():
            if nbytes != sum(half.dram_bytes[direction].get(kind, 0) for _, half, _ in parts):
                violations.append(f"training step {direction} {kind} bytes are not the sum of its halves")
    return violations
def check_scalesim_run(result: RunResult, workload: Workload, hw: HardwareConfig,
                       options: RunOptions) -> list[str]:
    """A run under SCALE-Sim's memory model: every op once, in SCALE-Sim's order, back to back; its
    compute cycles SCALE-Sim's formula (re-derived here); stalls never negative; bytes conserved."""
    out: list[str] = []
    config = result.options.get("memory_model")
    if config != "scalesim":
        out.append(f"scalesim: run says memory model {config!r}")
    array = hw.cores.array
    expected = [(layer.name, str(op)) for layer, op in ops_in_order(workload, options)]
    events = [event for event in result.timeline if event.resource.endswith(".array")]
    if [(event.layer, event.op) for event in events] != expected:
        out.append(f"scalesim: {len(events)} ops ran, expected {len(expected)} in SCALE-Sim's order")
    clock = 0.0
    formula = 0
    for event in events:
        if event.start != clock:
            out.append(f"scalesim: {event.layer} {event.op} starts at {event.start:.0f}, previous op ended "
                       f"at {clock:.0f}")
        clock = event.end
    for layer, op in ops_in_order(workload, options):
        gemm = layer.gemm
        m, k, n = {Op.Y: (gemm.M, gemm.K, gemm.N), Op.DX: (gemm.M, gemm.N, gemm.K),
                   Op.DW: (gemm.K, gemm.M, gemm.N)}[op]
        dataflow = op_dataflow(array.dataflow, op)
        formula += gemm.groups * gemm_cycles(m, k, n, array.rows, array.cols, dataflow) - REPORT_OFFSET
    if result.compute_cycles != formula:
        out.append(f"scalesim: compute {result.compute_cycles} cycles, SCALE-Sim's formula gives {formula}")
    if result.total_cycles != clock or result.total_cycles < result.compute_cycles:
        out.append(f"scalesim: total {result.total_cycles:.0f} cycles, ops end at {clock:.0f}, compute "
                   f"{result.compute_cycles}")
    for direction in DIRECTIONS:
        for kind, nbytes in result.dram_bytes[direction].items():
            layers = sum(row.read_bytes[kind] if direction == Direction.READ else row.write_bytes[kind]
                         for row in result.layers)
            if layers != nbytes:
                out.append(f"scalesim: {direction} {kind} {nbytes} B, layers add up to {layers} B")
    return out


def _task_key(task: TileTask) -> tuple[str, str, str]:
    return task.layer, task.op, ".".join(map(str, task.tile))


def expected_cycles(schedule: Schedule, hw: HardwareConfig, computes: list[TimelineEvent]) -> dict[int, int]:
    """Task id -> cycles its unit should have taken, replaying each core's tiles in the order they ran.

    A tile's cost depends on the tile before it on its array (a continued fold, SCALE-Sim's report
    offset on an op's first tile). A plain array (one dataflow, no stationary reuse, no zero
    skipping) is re-derived here from compute_model's formulas alone, independently of the array
    component; otherwise (reconfiguration between dataflows, a stationary operand still resident)
    each core's sequence is replayed through a fresh array model. Vector tasks cost the vector
    unit's rate.
    """
    config = hw.cores.array
    plain = isinstance(config.dataflow, str) and not config.stationary_reuse and not config.zero_skipping
    tasks = {_task_key(task): task for task in schedule.tasks}
    arrays = [SystolicArray.from_config(None, hw.cores.array) for _ in range(hw.cores.count)]
    vector = VectorUnit(None, hw.cores.vector.elements_per_cycle, hw.cores.vector.startup_cycles)
    cycles: dict[int, int] = {}
    ran = sorted(
        ((event.start, event.end, event.resource, tasks[(event.layer, event.op, event.tile)])
         for event in computes if (event.layer, event.op, event.tile) in tasks),
        key=lambda item: (*item[:3], item[3].id),
    )
    sequence = [task for *_, task in ran] + list(schedule.tasks)
    formula = [_PlainArray(config.rows, config.cols, str(config.dataflow)) for _ in range(hw.cores.count)]
    for task in sequence:
        if task.id not in cycles:
            cycles[task.id] = (
                vector.cycles(task.macs) if task.op == Op.VECTOR
                else formula[task.core].cycles(task) if plain
                else arrays[task.core].charge(task)
            )
    return cycles


class _PlainArray:
    """One-dataflow array cost from compute_model alone: a tile's rows, less one fold's overhead when
    it continues the stationary data of the tile before it, less SCALE-Sim's offset on an op's first
    tile."""

    def __init__(self, rows: int, cols: int, dataflow: str) -> None:
        self.rows, self.cols, self.dataflow = rows, cols, dataflow
        self.previous: TileKey | None = None
        self.ops: set[tuple[str, str]] = set()

    def cycles(self, task: TileTask) -> int:
        groups, m, k, n = task.extents
        cycles = groups * gemm_cycles(m, k, n, self.rows, self.cols, self.dataflow)
        held = {"os": task.output, "ws": task.inputs[1], "is": task.inputs[0]}[self.dataflow].key
        if held == self.previous:
            cycles -= fold_overhead(self.rows, self.cols, self.dataflow)
        self.previous = held
        if (task.layer, task.op) not in self.ops:
            self.ops.add((task.layer, task.op))
            cycles -= REPORT_OFFSET
        return cycles


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
    moved: dict[str, dict[str, int]] = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for event in transfers:
        moved[event.direction][event.kind] += event.bytes
    by_layers: dict[str, dict[str, int]] = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for row in result.layers:
        for kind in kinds:
            by_layers[Direction.READ][kind] += row.read_bytes.get(kind, 0)
            by_layers[Direction.WRITE][kind] += row.write_bytes.get(kind, 0)
    out = []
    for direction in DIRECTIONS:
        for kind in kinds:
            channel = result.dram_bytes.get(direction, {}).get(kind, 0)
            if moved[direction][kind] != channel:
                out.append(
                    f"bytes: DMA transfers {direction} {moved[direction][kind]} B of {kind}, "
                    f"DRAM channel counted {channel} B"
                )
            if by_layers[direction][kind] != channel:
                out.append(
                    f"bytes: layer rows {direction} {by_layers[direction][kind]} B of {kind}, "
                    f"DRAM channel counted {channel} B"
                )
    return out


def check_transfers(result: RunResult, hw: HardwareConfig, transfers: list[TimelineEvent]) -> list[str]:
    """No transfer beats the channel (latency + bytes / bandwidth), the channel never exceeds its bandwidth,
    and no DMA engine has more transfers in flight than it has slots."""
    bytes_per_cycle = hw.dram_bytes_per_cycle
    latency = hw.dram.latency_cycles
    fast = [
        f"DMA: {event.direction} of {event.bytes} B ({event.kind} tile {event.tile} of '{event.layer}') "
        f"took {event.duration:.1f} cycles, less than latency + bytes/bandwidth = "
        f"{latency + event.bytes / bytes_per_cycle:.1f}"
        for event in transfers
        if _close_below(event.duration, latency + event.bytes / bytes_per_cycle)
    ]
    out = _capped(fast)
    busy = sum(event.duration for event in result.timeline if event.resource == "dram")
    total = result.total_dram_bytes
    if total > bytes_per_cycle * busy * (1 + 1e-9) + 1e-6:
        out.append(
            f"DRAM: {total} B moved in {busy:.1f} busy cycles, more than {bytes_per_cycle:.3f} B/cycle allows"
        )
    per_core: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for event in transfers:
        per_core[event.resource] += [(event.start, 1), (event.end, -1)]
    limit = hw.cores.dma.outstanding
    for resource, edges in sorted(per_core.items()):
        in_flight = 0
        for time, step in sorted(edges):  # at equal times an end (-1) sorts before a start (+1)
            in_flight += step
            if in_flight > limit:
                out.append(
                    f"DMA: {resource} has {in_flight} transfers in flight at cycle {time:.0f} "
                    f"(outstanding limit {limit})"
                )
                break
    return out


def check_partial_sum_hazards(transfers: list[TimelineEvent]) -> list[str]:
    """A partial sum (dX/dW tile) read back from DRAM must not start before its write-back has finished,
    or the read would see stale data."""
    writes: dict[tuple[str, str, str], list[TimelineEvent]] = defaultdict(list)
    reads: list[TimelineEvent] = []
    for event in transfers:
        if event.kind in (TensorKind.DX, TensorKind.DW):
            target = (
                writes[(event.layer, event.kind, event.tile)] if event.direction == Direction.WRITE else reads
            )
            target.append(event)
    hazards: list[str] = []
    for read in reads:
        hazards.extend(
            f"hazard: {read.kind} tile {read.tile} of '{read.layer}' read back at cycle "
            f"{read.start:.0f} while its write-back runs until {write.end:.0f}"
            for write in writes.get((read.layer, read.kind, read.tile), ())
            if write.start <= read.start and _close_below(read.start, write.end)
        )
        if not any(write.start <= read.start for write in writes.get((read.layer, read.kind, read.tile), ())):
            hazards.append(
                f"hazard: {read.kind} tile {read.tile} of '{read.layer}' read from DRAM at cycle "
                f"{read.start:.0f} before any write of it"
            )
    return _capped(hazards)


def check_tiles(
    result: RunResult,
    schedule: Schedule,
    workload: Workload,
    options: RunOptions,
    computes: list[TimelineEvent],
    expected: dict[int, int],
) -> list[str]:
    """Every scheduled tile computed exactly once, on its core's array (or vector unit), for the cycles the
    array model gives; the arrays' busy cycles and MACs add up to the schedule's and the network's."""
    planned = {_task_key(task): task for task in schedule.tasks}
    seen = Counter((event.layer, event.op, event.tile) for event in computes)
    twice = [f"tiles: {_tile_id(*key)} computed {count} times" for key, count in seen.items() if count > 1]
    extra = [f"tiles: {_tile_id(*key)} computed but not scheduled" for key in seen if key not in planned]
    missing = [f"tiles: {_tile_id(*key)} scheduled but never computed" for key in planned if key not in seen]
    wrong = []
    for event in computes:
        task = planned.get((event.layer, event.op, event.tile))
        if task is None:
            continue
        unit = f"core{task.core}.{'vector' if task.op == Op.VECTOR else 'array'}"
        if event.resource != unit:
            wrong.append(
                f"tiles: {_tile_id(event.layer, event.op, event.tile)} ran on {event.resource}, "
                f"scheduled on {unit}"
            )
        if abs(event.duration - expected[task.id]) > 1e-6:
            wrong.append(
                f"tiles: {_tile_id(event.layer, event.op, event.tile)} took {event.duration:.1f} cycles, "
                f"the array model gives {expected[task.id]}"
            )
    out = _capped(twice) + _capped(extra) + _capped(missing) + _capped(wrong)
    array_cycles = sum(expected[task.id] for task in schedule.tasks if task.op != Op.VECTOR)
    vector_cycles = sum(expected[task.id] for task in schedule.tasks if task.op == Op.VECTOR)
    if result.compute_cycles != array_cycles:
        out.append(
            f"compute: arrays report {result.compute_cycles} busy cycles, the schedule needs {array_cycles}"
        )
    if result.vector_cycles != vector_cycles:
        out.append(
            f"compute: vector units report {result.vector_cycles} busy cycles, the schedule needs "
            f"{vector_cycles}"
        )
    forward = options.pass_ == "forward"
    network_macs = sum(
        layer.gemm.macs * (1 if forward else 2 if layer.has_input_gradient else 1)
        for layer in workload.layers
    )
    recomputes = forward and bool(options.fuse)  # fused row tiles recompute their halo rows
    if result.macs < network_macs or (result.macs != network_macs and not recomputes):
        out.append(
            f"compute: {result.macs} MACs done, the {'forward' if forward else 'backward'} pass has "
            f"{network_macs}"
        )
    return out


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
                out.append(
                    f"compute: {resource} starts {_tile_id(after.layer, after.op, after.tile)} at "
                    f"{after.start:.0f} before {_tile_id(before.layer, before.op, before.tile)} ends at "
                    f"{before.end:.0f}"
                )
    return _capped(out)


def check_dependencies(
    result: RunResult,
    workload: Workload,
    options: RunOptions,
    schedule: Schedule,
    computes: list[TimelineEvent],
) -> list[str]:
    """No tile starts before the data it reads exists.

    Backward, from the graph alone: no dX/dW tile of a layer starts before every consumer layer's dX op
    has ended (its dY is complete). Forward without fusion: no Y tile starts before its producers' Y.
    And for any pass: no op starts before the ops the schedule says it waits for have computed.
    """
    forward = forward_graph(workload)
    rows = {row.layer: row for row in result.layers}
    first_start: dict[OpId, TimelineEvent] = {}
    last_end: dict[OpId, float] = {}
    for event in computes:
        op = (event.layer, event.op)
        if op not in first_start or event.start < first_start[op].start:
            first_start[op] = event
        last_end[op] = max(last_end.get(op, 0.0), event.end)

    def op_end(op: OpId) -> float:
        row = rows.get(op[0])
        if row is not None and op[1] in (Op.DX, Op.DW):
            return row.dX_end if op[1] == Op.DX else row.dW_end
        return last_end.get(op, float("inf"))  # the op cannot end before its last tile has computed

    out = []
    if options.pass_ == "forward":
        if not options.fuse:
            for (layer, layer_op), event in sorted(first_start.items()):
                for producer in forward.predecessors(layer):
                    end = rows[producer].end if producer in rows else float("inf")
                    if _close_below(event.start, end):
                        out.append(
                            f"deps: {_tile_id(layer, layer_op, event.tile)} starts at cycle "
                            f"{event.start:.0f}, before Y of '{producer}' (its input) ends at {end:.0f}"
                        )
    elif options.dependencies == "tile":
        out += check_dy_tile_producers(workload, schedule, result.timeline, computes)
    else:
        backward = backward_graph(forward)
        for op, event in sorted(first_start.items()):
            if op[1] == Op.VECTOR:
                continue
            if op not in backward:
                out.append(f"deps: {_tile_id(event.layer, event.op, event.tile)} belongs to no backward op")
                continue
            for producer_layer, producer_op in backward.predecessors(op):
                end = op_end((producer_layer, producer_op))
                if _close_below(event.start, end):
                    out.append(
                        f"deps: {_tile_id(event.layer, event.op, event.tile)} starts at cycle "
                        f"{event.start:.0f}, before {producer_op} of '{producer_layer}' (its dY) ends at "
                        f"{end:.0f}"
                    )
    for op, event in sorted(first_start.items()):
        for dependency in schedule.op_deps.get(op, ()):
            end = op_end(dependency)
            if end != float("inf") and _close_below(event.start, end):
                out.append(
                    f"deps: {_tile_id(event.layer, event.op, event.tile)} starts at cycle {event.start:.0f}, "
                    f"before {dependency[1]} of '{dependency[0]}', which the schedule waits for, ends at "
                    f"{end:.0f}"
                )
    return _capped(dict.fromkeys(out))


def check_dy_tile_producers(workload: Workload, schedule: Schedule, timeline: Iterable[TimelineEvent],
                            computes: list[TimelineEvent]) -> list[str]:
    """With `dependencies: tile`: no tile reading a layer's dY starts before the consumer dX tiles that
    produce that dY tile (npu_des/schedule/tile_deps.py `readers`) have been written back, nor a GEMM
    tile before the layer's vector task on its dY tile has ended."""
    layers = {layer.name: layer for layer in workload.layers}
    consumers = consumers_of(workload.layers)
    written: dict[tuple[str, str], float] = {}
    for event in timeline:
        stored = event.direction == Direction.WRITE and event.kind == TensorKind.DX
        if stored and event.resource.endswith(".dma"):
            key = (event.layer, event.tile)
            written[key] = max(written.get(key, 0.0), event.end)
    vector_end = {(event.layer, event.tile.rpartition(".")[0]): event.end
                  for event in computes if event.op == Op.VECTOR}
    mapping: dict[tuple[str, str], dict[tuple[int, int, int], list[tuple[int, int, int]]]] = {}
    out = []
    for event in computes:
        g, m, n, _ = (int(part) for part in event.tile.split("."))
        dy_tile = f"{g}.{m}.{n}"
        if event.op != Op.VECTOR and (event.layer, dy_tile) in vector_end:
            vector = vector_end[(event.layer, dy_tile)]
            needs = [(f"the vector task on dY tile {dy_tile} of '{event.layer}'", vector)]
        else:
            needs = []
            for consumer in consumers.get(event.layer, []):
                if (event.layer, consumer) not in mapping:
                    mapping[(event.layer, consumer)] = readers(
                        schedule.grids[event.layer], schedule.grids[consumer], layers)
                for tile in mapping[(event.layer, consumer)][(g, m, n)]:
                    label = ".".join(map(str, tile))
                    needs.append((f"the write-back of dX tile {label} of '{consumer}'",
                                  written.get((consumer, label), float("inf"))))
        for what, end in needs:
            if _close_below(event.start, end):
                out.append(f"deps: {_tile_id(event.layer, event.op, event.tile)} starts at cycle "
                           f"{event.start:.0f}, before {what} (its dY) ends at {end:.0f}")
    return out


def check_tile_dependencies(
    schedule: Schedule, computes: list[TimelineEvent], transfers: list[TimelineEvent]
) -> list[str]:
    """No task starts before each task in its `after` has computed and, if its final output goes to
    DRAM, that write-back (the first write of the output tile after its compute) has landed."""
    if not any(task.after for task in schedule.tasks):
        return []
    started = {(event.layer, event.op, event.tile): event for event in computes}
    writes: dict[tuple[str, str, str], list[TimelineEvent]] = defaultdict(list)
    for event in transfers:
        if event.direction == Direction.WRITE:
            writes[(event.layer, event.kind, event.tile)].append(event)
    tasks = schedule.tasks
    out = []
    for task in tasks:
        run = started.get(_task_key(task))
        for task_id in task.after:
            before = tasks[task_id]
            ran = started.get(_task_key(before))
            if run is None or ran is None:
                continue  # check_tiles reports tiles that never ran
            landed = ran.end
            if before.last and before.write_back:
                output = before.output
                tile = ".".join(map(str, output.key[2:]))
                stores = [w.end for w in writes.get((output.layer, output.kind, tile), ())
                          if w.start >= ran.end]
                landed = min(stores, default=float("inf"))
            if _close_below(run.start, landed):
                out.append(f"tile dependencies: {_tile_id(*_task_key(task))} starts at cycle {run.start:.0f} "
                           f"before task {task_id} ({_tile_id(*_task_key(before))}) landed at {landed:.0f}")
    return _capped(out)


def check_partial_sum_order(schedule: Schedule, computes: list[TimelineEvent]) -> list[str]:
    """Contributions to one output tile accumulate in schedule order: each starts after the previous ended."""
    by_task = {(event.layer, event.op, event.tile): event for event in computes}
    tasks = schedule.tasks
    out = []
    for task in tasks:
        if task.prev < 0:
            continue
        event = by_task.get(_task_key(task))
        before = by_task.get(_task_key(tasks[task.prev]))
        if event is not None and before is not None and _close_below(event.start, before.end):
            out.append(
                f"order: {_tile_id(event.layer, event.op, event.tile)} starts at {event.start:.0f}, before "
                f"the previous contribution ({_tile_id(before.layer, before.op, before.tile)}) ends at "
                f"{before.end:.0f}"
            )
    return _capped(out)


def check_lower_bounds(
    result: RunResult,
    schedule: Schedule,
    options: RunOptions,
    hw: HardwareConfig,
    computes: list[TimelineEvent],
    transfers: list[TimelineEvent],
    expected: dict[int, int],
) -> list[str]:
    """Run and every layer take at least max(compute cycles / cores, compulsory bytes / bytes-per-cycle).

    Compute counts the array and vector cycles of the layer's tiles; compulsory bytes are
    `compulsory_bytes(schedule)`. A layer's window
    runs from its first activity (a load may precede its first compute) to its last (the final
    write-back), so the bound holds however layers overlap.
    """
    cores, bytes_per_cycle = hw.cores.count, hw.dram_bytes_per_cycle
    layer_cycles: dict[str, int] = defaultdict(int)
    for task in schedule.tasks:
        layer_cycles[task.layer] += expected[task.id]
    compulsory = compulsory_bytes(schedule)
    out = []
    bound = max(sum(layer_cycles.values()) / cores, sum(compulsory.values()) / bytes_per_cycle)
    if _close_below(result.total_cycles, bound):
        out.append(f"bound: run took {result.total_cycles:.0f} cycles, below the lower bound {bound:.0f}")
    if _close_below(result.lower_bound_cycles, bound) or _close_below(bound, result.lower_bound_cycles):
        out.append(
            f"bound: run reports lower bound {result.lower_bound_cycles:.0f}, the plan gives {bound:.0f}"
        )
    window: dict[str, list[float]] = {}
    for event in (*computes, *transfers):
        span = window.setdefault(event.layer, [event.start, event.end])
        span[0] = min(span[0], event.start)
        span[1] = max(span[1], event.end)
    for row in result.layers:
        active = window.get(row.layer)
        if active is None:
            continue
        end = max(active[1], row.end)
        layer_bound = max(
            layer_cycles.get(row.layer, 0) / cores, compulsory.get(row.layer, 0) / bytes_per_cycle
        )
        if _close_below(end - active[0], layer_bound):
            out.append(
                f"bound: layer '{row.layer}' active {end - active[0]:.0f} cycles, below its lower bound "
                f"{layer_bound:.0f}"
            )
    return _capped(out)


def compulsory_bytes(schedule: Schedule) -> dict[str, int]:
    """Per layer, the bytes no policy can avoid moving (npu_des/schedule/compulsory.py)."""
    out: dict[str, int] = defaultdict(int)
    for (layer, _kind), nbytes in compulsory_traffic(schedule).items():
        out[layer] += nbytes
    return dict(out)
