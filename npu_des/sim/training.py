"""A training step (`run.pass: training`): the forward pass, then the backward pass, as two runs combined.

MICRO'23 measures forward + backward time and stores every activation of the forward pass in DRAM for
the backward pass (p.10: no rematerialisation). Both halves already do what that needs: the forward pass
writes each layer's Y to DRAM, the backward pass reads X (the producer's Y) and W back. The backward pass
starts from the loss, so it cannot overlap the forward pass: the step's time is the sum of the halves',
its bytes, compute and tasks the sum of theirs, and its timeline the backward one shifted by the forward
pass's cycles. Loss and optimizer step are not simulated (the paper leaves them out too).

The backward half runs `options` as given (its order, baseline, partitioning, dY pins, vector ops,
oracles); the forward half gets only the options both passes share (batch, tiles, SPM fraction,
prefetch depth, sparsity, task limit), so it is the same for every backward order. Options only the
forward pass understands are refused: `run.fuse` (fused layers write no activations, which the backward
half must read back), `LAYER:Y` pins, and `run.pin_plan` (a dY pin plan backward, a pin/fuse plan
forward: which one is meant is ambiguous).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from npu_des.config import RunOptions
from npu_des.errors import ConfigError
from npu_des.kinds import ALL_KINDS, DIRECTIONS, TensorKind
from npu_des.metrics import LayerRow, RunResult, TimelineEvent
from npu_des.sim.records import LazyEvents, Row, timeline_rows

Pass = str  # "forward" or "backward"
# Fields of RunOptions that only the backward pass reads; the forward half gets their defaults.
BACKWARD_ONLY = ("order", "sequential_first", "loop_order", "baseline", "partition", "partitions",
                 "core_mapping", "dependencies", "dw_dy", "layer_choices", "vector_ops", "pins")


def training_halves(options: RunOptions) -> tuple[RunOptions, RunOptions]:
    """The forward and backward options of a training step; forward-only options are a ConfigError."""
    refused = []
    if options.fuse:
        refused.append("run.fuse is forward-only (fused layers write no activations; the backward half "
                       "reads them all back)")
    forward_pins = [pin for pin in options.pins if pin.rpartition(":")[2] == TensorKind.Y]
    if forward_pins:
        refused.append(f"forward pins {', '.join(forward_pins)} are forward-only (a pinned Y is never "
                       "written to DRAM)")
    if options.pin_plan != "none":
        refused.append("run.pin_plan means a dY pin plan backward and a pin/fuse plan forward")
    if refused:
        raise ConfigError(f"a training step runs both passes: {'; '.join(refused)}", field="run.pass",
                          allowed="--pass forward or backward for these, or leave them out")
    defaults = {name: RunOptions.model_fields[name].get_default(call_default_factory=True)
                for name in BACKWARD_ONLY}
    forward = options.model_copy(update={**defaults, "pass_": "forward"})
    backward = options.model_copy(update={"pass_": "backward"})
    return forward, backward


def combine(forward: RunResult, backward: RunResult, options: RunOptions) -> RunResult:
    """One training step from its two halves (see the module docstring); the halves stay in `passes`."""
    offset = forward.total_cycles
    halves = (forward, backward)
    return RunResult(
        model=backward.model,
        hardware=backward.hardware,
        order=backward.order,
        cores=backward.cores,
        clock_ghz=backward.clock_ghz,
        total_cycles=forward.total_cycles + backward.total_cycles,
        compute_cycles=forward.compute_cycles + backward.compute_cycles,
        macs=forward.macs + backward.macs,
        core_busy_cycles=[f + b for f, b in zip(forward.core_busy_cycles, backward.core_busy_cycles)],
        pe_count_per_core=backward.pe_count_per_core,
        dram_bytes={direction: _sum_kinds([half.dram_bytes[direction] for half in halves])
                    for direction in DIRECTIONS},
        compulsory_bytes=_sum_kinds([half.compulsory_bytes for half in halves]),
        dram_bytes_per_cycle=backward.dram_bytes_per_cycle,
        spm_capacity_bytes=backward.spm_capacity_bytes,
        spm_peak_bytes=max(forward.spm_peak_bytes, backward.spm_peak_bytes),
        spm_hits=forward.spm_hits + backward.spm_hits,
        spm_misses=forward.spm_misses + backward.spm_misses,
        spm_evictions=forward.spm_evictions + backward.spm_evictions,
        dram_transfers=forward.dram_transfers + backward.dram_transfers,
        tasks=forward.tasks + backward.tasks,
        layers=[*_rows(forward.layers, "forward", 0.0), *_rows(backward.layers, "backward", offset)],
        timeline=StepTimeline(forward.timeline, backward.timeline, offset),
        spm_occupancy=[*forward.spm_occupancy,
                       *((cycle + offset, used, pinned) for cycle, used, pinned in backward.spm_occupancy)],
        options={**backward.options, "pass": "training"},
        choices=backward.choices,
        arrays=[{key: f.get(key, 0) + b.get(key, 0) for key in {**f, **b}}
                for f, b in zip(forward.arrays, backward.arrays)],
        vector_cycles=forward.vector_cycles + backward.vector_cycles,
        vector_span_cycles=forward.vector_span_cycles + backward.vector_span_cycles,
        notes=list(dict.fromkeys([*forward.notes, *backward.notes])),
        stalls={core: {reason: forward.stalls.get(core, {}).get(reason, 0.0)
                       + backward.stalls.get(core, {}).get(reason, 0.0)
                       for reason in {**forward.stalls.get(core, {}), **backward.stalls.get(core, {})}}
                for core in {**forward.stalls, **backward.stalls}},
        passes={"forward": forward, "backward": backward},
    )


def _sum_kinds(tables: Sequence[dict[str, int]]) -> dict[str, int]:
    """Bytes per tensor kind summed over the halves, every kind listed (Y included: the forward pass's)."""
    return {kind: sum(table.get(kind, 0) for table in tables) for kind in ALL_KINDS}


def _rows(rows: list[LayerRow], pass_name: Pass, offset: float) -> list[LayerRow]:
    """A half's layer rows on the step's clock, marked with their pass (an op end of 0 means no such op),
    with every kind's byte columns (Y too), so layers.csv rows of both halves have the same columns."""
    return [
        replace(row, pass_name=pass_name, start=row.start + offset, end=row.end + offset,
                dX_end=row.dX_end + offset if row.dX_end else 0.0,
                dW_end=row.dW_end + offset if row.dW_end else 0.0,
                read_bytes=_sum_kinds([row.read_bytes]), write_bytes=_sum_kinds([row.write_bytes]))
        for row in rows
    ]


class StepTimeline(LazyEvents):
    """The forward timeline, then the backward one `offset` cycles later; still sorted by start, since the
    forward pass ends before the backward pass begins. Built only when read (the halves' timelines are
    lazy too); `rows()` streams the CSV rows (npu_des/sim/records.py `timeline_rows`)."""

    def __init__(self, forward: Sequence[TimelineEvent], backward: Sequence[TimelineEvent],
                 offset: float) -> None:
        self._forward, self._backward, self._offset = forward, backward, offset
        self._events: list[TimelineEvent] | None = None

    def __len__(self) -> int:
        return len(self._forward) + len(self._backward)

    def rows(self) -> Iterator[Row]:
        yield from timeline_rows(self._forward)
        offset = self._offset
        for row in timeline_rows(self._backward):
            yield (row[0], row[1] + offset, row[2] + offset, *row[3:])

    def _build(self) -> list[TimelineEvent]:
        offset = self._offset
        return [*self._forward, *(replace(event, start=event.start + offset, end=event.end + offset)
                                  for event in self._backward)]


def halves(result: RunResult) -> list[tuple[Pass, RunResult, RunOptions]]:
    """A training step's halves with the options each ran with (empty for any other run)."""
    return [(name, half, RunOptions.model_validate(half.options)) for name, half in result.passes.items()]
