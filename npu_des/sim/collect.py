"""A finished run's records -> RunResult: timeline, per-layer rows, byte tables, SPM and array statistics.

Reads only what the components and executors recorded (typed records, never their internals), so
the numbers in a RunResult are exactly what the simulated hardware counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from npu_des.config import HardwareConfig, RunOptions
from npu_des.kinds import ALL_KINDS, DIRECTIONS, KINDS, Direction, Op, Order, StallReason
from npu_des.metrics import LayerRow, RunResult, TimelineEvent
from npu_des.schedule.compulsory import compulsory_traffic
from npu_des.schedule.tasks import Schedule
from npu_des.sim.components.dram import DramChannel
from npu_des.sim.components.spm import Scratchpad
from npu_des.sim.executor import CoreExecutor, Synchronizer
from npu_des.sim.records import PAIRS, CoreLogs, Timeline
from npu_des.sim.stalls import CODE, REASONS, WAITS
from npu_des.tiling import TileShape
from npu_des.workload import Workload


@dataclass(frozen=True)
class FinishedRun:
    """The simulated world after `env.run()`: the end time and the components that kept statistics."""

    now: float
    dram: DramChannel
    spm: Scratchpad
    executors: list[CoreExecutor]
    sync: Synchronizer


@dataclass
class _LayerCompute:
    """Running totals of one layer's compute tiles."""

    start: float
    busy: int = 0  # cycles charged (integers: a sum of end - start floats can round below it)
    macs: int = 0
    tasks: int = 0


def collect(workload: Workload, hw: HardwareConfig, options: RunOptions, schedule: Schedule,
            run: FinishedRun) -> RunResult:
    """Everything the run measured, as the plain data reports and sweeps read."""
    names = [layer.name for layer in workload.layers]
    kinds = ALL_KINDS if options.pass_ == "forward" or options.vector_ops else KINDS  # vector ops read Y
    layer_compute = _layer_compute(run.executors)
    layer_bytes: dict[str, dict[str, dict[str, int]]] = {
        name: {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS} for name in names
    }
    for executor in run.executors:
        for (layer, code), nbytes in executor.dma.layer_bytes.items():
            pair = PAIRS[code]
            layer_bytes[names[layer]][pair[1]][pair[0]] += nbytes
    compulsory: dict[str, int] = dict.fromkeys(kinds, 0)
    for (_layer, kind), nbytes in compulsory_traffic(schedule).items():
        compulsory[kind] += nbytes
    dram_bytes: dict[str, dict[str, int]] = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for (kind, direction), nbytes in run.dram.bytes.items():
        dram_bytes[direction][kind] += nbytes
    executors, spm = run.executors, run.spm
    timeline: Sequence[TimelineEvent] = []
    if all(executor.dma.records is not None for executor in executors):
        timeline = Timeline(
            [CoreLogs(e.core, e.tasks, e.compute_log, e.dma.records, e.stalls)
             for e in executors if e.dma.records is not None], names, run.dram.busy_intervals)
    return RunResult(
        model=workload.name,
        hardware=hw.name,
        order=order_label(options),
        cores=hw.cores.count,
        clock_ghz=hw.clock_ghz,
        total_cycles=run.now,
        compute_cycles=sum(e.array.busy_cycles for e in executors),
        macs=sum(e.array.macs for e in executors),
        core_busy_cycles=[e.array.busy_cycles + e.vector.busy_cycles for e in executors],
        vector_cycles=sum(e.vector.busy_cycles for e in executors),
        vector_span_cycles=_vector_span(executors, run.sync),
        pe_count_per_core=hw.cores.array.rows * hw.cores.array.cols,
        dram_bytes=dram_bytes,
        compulsory_bytes=compulsory,
        dram_bytes_per_cycle=hw.dram_bytes_per_cycle,
        spm_capacity_bytes=spm.capacity_bytes,
        spm_peak_bytes=spm.peak_bytes,
        spm_hits=sum(spm.hits),
        spm_misses=sum(spm.misses),
        spm_evictions=spm.evictions,
        dram_transfers=run.dram.transfers,
        tasks=len(schedule.tasks),
        layers=_layer_rows(schedule, run, layer_compute, layer_bytes),
        timeline=timeline,
        spm_occupancy=spm.occupancy if spm.occupancy is not None else [],
        options=options.model_dump(mode="json", by_alias=True),
        choices=_choices(schedule),
        arrays=[dict(executor.array.statistics()) for executor in executors],
        stalls={f"core{e.core}": _core_stalls(e) for e in executors},
    )


def _core_stalls(executor: CoreExecutor) -> dict[str, float]:
    """Cycles of the run the core's array spent computing and waiting, per StallReason (they add up to
    the run's cycles)."""
    log = executor.compute_log
    totals = dict(zip(REASONS, executor.stalls.totals))
    totals[StallReason.COMPUTE] = sum(end - start for start, end in zip(log.starts, log.ends))
    return {str(reason): totals[reason] for reason in REASONS}


def _layer_compute(executors: list[CoreExecutor]) -> dict[str, _LayerCompute]:
    """Per layer: its first compute start, busy cycles, MACs and tasks (cores in order, tasks in order)."""
    layer_compute: dict[str, _LayerCompute] = {}
    for executor in executors:
        log = executor.compute_log
        for start, cycles, task in zip(log.starts, log.cycles, executor.tasks):
            stats = layer_compute.get(task.layer)
            if stats is None:
                stats = layer_compute[task.layer] = _LayerCompute(start)
            elif start < stats.start:
                stats.start = start
            stats.busy += cycles
            if task.op != Op.VECTOR:
                groups, rows, reduction, cols = task.extents  # task.macs, without two property calls
                stats.macs += groups * rows * reduction * cols
            stats.tasks += 1
    return layer_compute


def _layer_rows(
    schedule: Schedule,
    run: FinishedRun,
    layer_compute: dict[str, _LayerCompute],
    layer_bytes: dict[str, dict[str, dict[str, int]]],
) -> list[LayerRow]:
    """One row per layer, in model order: GEMM, tile, span, op ends, compute and bytes moved."""
    rows = []
    op_end = run.sync.op_end
    for grid in sorted(schedule.grids.values(), key=lambda g: g.index):
        name = grid.layer.name
        compute = layer_compute.get(name, _LayerCompute(0.0))
        dx_end = op_end.get((name, Op.DX), 0.0)
        dw_end = op_end.get((name, Op.DW), 0.0)
        gemm = grid.layer.gemm
        rows.append(
            LayerRow(
                layer=name,
                kind=grid.layer.kind,
                M=gemm.M,
                N=gemm.N,
                K=gemm.K,
                groups=gemm.groups,
                tile=_tile_label(grid.shape),
                tasks=compute.tasks,
                start=compute.start,
                end=max(dx_end, dw_end, op_end.get((name, Op.Y), 0.0), op_end.get((name, Op.VECTOR), 0.0)),
                dX_end=dx_end,
                dW_end=dw_end,
                compute_cycles=compute.busy,
                macs=compute.macs,
                read_bytes=layer_bytes[name][Direction.READ],
                write_bytes=layer_bytes[name][Direction.WRITE],
                spm_hits=run.spm.hits[grid.index],
                spm_misses=run.spm.misses[grid.index],
                stalls=_layer_stalls(run.executors, name),
            )
        )
    return rows


def _layer_stalls(executors: list[CoreExecutor], layer: str) -> dict[str, float]:
    """Cycles cores waited before the layer's tasks, per reason (cores in order)."""
    totals = dict.fromkeys(WAITS, 0.0)
    for executor in executors:
        per_reason = executor.stalls.per_layer.get(layer)
        if per_reason is not None:
            for reason in WAITS:
                totals[reason] += per_reason[CODE[reason]]
    return {str(reason): cycles for reason, cycles in totals.items()}


def _tile_label(shape: TileShape) -> str:
    return f"{shape.tg}x{shape.tm}x{shape.tn}x{shape.tk}"


def _vector_span(executors: list[CoreExecutor], sync: Synchronizer) -> float:
    """Wall cycles from each layer's first vector task to the end of its vector op (write-backs included)."""
    first: dict[str, float] = {}
    for executor in executors:
        for start, task in zip(executor.compute_log.starts, executor.tasks):
            if task.op == Op.VECTOR:
                first[task.layer] = min(first.get(task.layer, start), start)
    return sum(sync.op_end[(layer, Op.VECTOR)] - start for layer, start in first.items())


def order_label(options: RunOptions) -> str:
    """The order's name as summaries, tables and sweeps spell it: `forward` for a forward pass, and
    `interleaved-auto` for the fused order with its per-layer loop order (the alias's name)."""
    if options.pass_ == "forward":
        return "forward"
    if options.order == Order.FUSED and options.loop_order == "auto":
        return "interleaved-auto"
    return str(options.order)


def _choices(schedule: Schedule) -> dict[str, dict[str, str]]:
    """Per layer: the tile shape, and what its layer plan decided (orders, partitions, core mapping)."""
    return {
        name: {"tile": _tile_label(g.shape), **schedule.layer_choices.get(name, {})}
        for name, g in schedule.grids.items()
    }
