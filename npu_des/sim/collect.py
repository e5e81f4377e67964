"""A finished run's records -> RunResult: timeline, per-layer rows, byte tables, SPM and array statistics.

Reads only what the components and executors recorded (typed records, never their internals), so
the numbers in a RunResult are exactly what the simulated hardware counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from npu_des.config import HardwareConfig, RunOptions
from npu_des.kinds import ALL_KINDS, DIRECTIONS, KINDS, Direction, Op
from npu_des.metrics import LayerRow, RunResult, TimelineEvent
from npu_des.schedule.compulsory import compulsory_traffic
from npu_des.schedule.tasks import Schedule
from npu_des.sim.components.dram import DramChannel
from npu_des.sim.components.spm import Scratchpad
from npu_des.sim.executor import CoreExecutor, Synchronizer
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
    busy: float = 0.0
    macs: int = 0
    tasks: int = 0


def collect(workload: Workload, hw: HardwareConfig, options: RunOptions, schedule: Schedule,
            run: FinishedRun) -> RunResult:
    """Everything the run measured, as the plain data reports and sweeps read."""
    names = [layer.name for layer in workload.layers]
    kinds = ALL_KINDS if options.pass_ == "forward" or options.vector_ops else KINDS  # vector ops read Y
    timeline, layer_compute = _compute_events(run.executors)
    layer_bytes: dict[str, dict[str, dict[str, int]]] = {
        name: {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS} for name in names
    }
    for executor in run.executors:
        resource = f"core{executor.core}.dma"
        for record in executor.dma.records:
            layer = names[record.key.layer]
            layer_bytes[layer][record.direction][record.kind] += record.nbytes
            timeline.append(
                TimelineEvent(
                    resource,
                    record.start,
                    record.end,
                    record.kind,
                    layer,
                    "",
                    ".".join(map(str, record.key[2:])),
                    record.nbytes,
                    record.direction,
                )
            )
    timeline.extend(
        TimelineEvent("dram", start, end, "busy", "", "", "", 0, "") for start, end in run.dram.busy_intervals
    )
    timeline.sort(key=lambda event: (event.start, event.resource, event.end))
    compulsory: dict[str, int] = dict.fromkeys(kinds, 0)
    for (_layer, kind), nbytes in compulsory_traffic(schedule).items():
        compulsory[kind] += nbytes
    dram_bytes: dict[str, dict[str, int]] = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    for (kind, direction), nbytes in run.dram.bytes.items():
        dram_bytes[direction][kind] += nbytes
    executors, spm = run.executors, run.spm
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
        spm_occupancy=spm.occupancy,
        options=options.model_dump(mode="json", by_alias=True),
        choices=_choices(schedule),
        arrays=[dict(executor.array.statistics()) for executor in executors],
    )


def _compute_events(executors: list[CoreExecutor]) -> tuple[list[TimelineEvent], dict[str, _LayerCompute]]:
    """Timeline events of every compute tile, and per layer its first start, busy cycles, MACs and tasks."""
    timeline: list[TimelineEvent] = []
    layer_compute: dict[str, _LayerCompute] = {}
    for executor in executors:
        for start, end, task in executor.compute_records:
            vector = task.op == Op.VECTOR
            resource = f"core{executor.core}.{'vector' if vector else 'array'}"
            timeline.append(
                TimelineEvent(
                    resource,
                    start,
                    end,
                    task.op,
                    task.layer,
                    task.op,
                    ".".join(map(str, task.tile)),
                    task.macs,
                    "",
                )
            )
            stats = layer_compute.setdefault(task.layer, _LayerCompute(start))
            stats.start = min(stats.start, start)
            stats.busy += end - start
            stats.macs += 0 if vector else task.macs
            stats.tasks += 1
    return timeline, layer_compute


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
                compute_cycles=round(compute.busy),  # float timeline: int() could lose a cycle
                macs=compute.macs,
                read_bytes=layer_bytes[name][Direction.READ],
                write_bytes=layer_bytes[name][Direction.WRITE],
                spm_hits=run.spm.hits[grid.index],
                spm_misses=run.spm.misses[grid.index],
            )
        )
    return rows


def _tile_label(shape: TileShape) -> str:
    return f"{shape.tg}x{shape.tm}x{shape.tn}x{shape.tk}"


def _vector_span(executors: list[CoreExecutor], sync: Synchronizer) -> float:
    """Wall cycles from each layer's first vector task to the end of its vector op (write-backs included)."""
    first: dict[str, float] = {}
    for executor in executors:
        for start, _, task in executor.compute_records:
            if task.op == Op.VECTOR:
                first[task.layer] = min(first.get(task.layer, start), start)
    return sum(sync.op_end[(layer, Op.VECTOR)] - start for layer, start in first.items())


def order_label(options: RunOptions) -> str:
    """`interleaved-auto` when the interleaved loop order is chosen per layer, else the order's name."""
    if options.pass_ == "forward":
        return "forward"
    return (
        "interleaved-auto"
        if options.order == "interleaved" and options.loop_order == "auto"
        else options.order
    )


def _choices(schedule: Schedule) -> dict[str, dict[str, str]]:
    """Per layer: the tile shape, and for interleaved runs the loop order and partition scheme used."""
    return {
        name: {"tile": _tile_label(g.shape), **schedule.layer_choices.get(name, {})}
        for name, g in schedule.grids.items()
    }
