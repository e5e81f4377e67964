"""Why a core's array is not computing: every cycle of a run, per core, is exactly one `StallReason`.

A core computes its tasks in order. Between the end of task i-1 (or cycle 0) and the start of task i
it waits for task i's preparation (npu_des/sim/executor.py), which first waits for dependencies (its
`after` tasks, a fused input, the ops producing its dY or a pin's lifetime, the previous contribution
to its partial sum; taking tile references never waits), then for its operand loads. The gap before
the last dependency was met is `dependency`; the rest is split along the load that landed last:

- from its request until SPM space was allocated for it: `spm_space`;
- from then until its transfer started (a DMA slot, an eviction store of the same tile) and the part
  of the transfer beyond latency + bytes / bandwidth: `load_contention` (the channel or DMA engine
  serving other transfers);
- the last latency + bytes / bandwidth cycles of the transfer: `load_transfer` (what this load would
  take alone).

After its last task a core has `idle` cycles (all of the run for a core without tasks). Pieces are
half-open intervals whose boundaries are the simulated times themselves, so a core's compute and
stall intervals tile [0, end of run] with no gap or overlap.
"""

from __future__ import annotations

from array import array
from typing import Protocol

from npu_des.kinds import StallReason

Piece = tuple[float, float, StallReason]
REASONS: tuple[StallReason, ...] = tuple(StallReason)
WAITS: tuple[StallReason, ...] = (StallReason.DEPENDENCY, StallReason.SPM_SPACE, StallReason.LOAD_CONTENTION,
                                  StallReason.LOAD_TRANSFER)  # the reasons a task's preparation causes
CODE: dict[StallReason, int] = {reason: code for code, reason in enumerate(REASONS)}


class LoadTimes(Protocol):
    """The load a preparation waited for last (an SPM `Fill`): requested, space allocated, transfer
    started (None: no transfer), landed; its bytes."""

    requested: float
    allocated: float
    started: float | None
    landed: float
    nbytes: int


def _clip(start: float, end: float, low: float, high: float, reason: StallReason, out: list[Piece]) -> None:
    start, end = max(start, low), min(end, high)
    if end > start:
        out.append((start, end, reason))


def split_gap(gap_start: float, gap_end: float, loading_since: float, load: LoadTimes | None,
              latency_cycles: float, bytes_per_cycle: float) -> list[Piece]:
    """The pieces of [gap_start, gap_end): until `loading_since` the preparation waited for dependencies
    (its only other waits; taking references never waits), from then for its loads, of which `load`
    landed last (None: it had none to wait for)."""
    pieces: list[Piece] = []
    _clip(gap_start, loading_since, gap_start, gap_end, StallReason.DEPENDENCY, pieces)
    low = max(loading_since, gap_start)
    if gap_end <= low:
        return pieces
    if load is None:
        pieces.append((low, gap_end, StallReason.LOAD_CONTENTION))
        return pieces
    if load.started is None:  # no transfer (an allocation only, or an oracle's free load)
        alone = load.landed
    else:
        alone = max(load.started, load.landed - (latency_cycles + load.nbytes / bytes_per_cycle))
    requested, allocated, landed = load.requested, load.allocated, load.landed
    for start, end, reason in ((low, requested, StallReason.LOAD_CONTENTION),
                               (requested, allocated, StallReason.SPM_SPACE),
                               (allocated, alone, StallReason.LOAD_CONTENTION),
                               (alone, landed, StallReason.LOAD_TRANSFER),
                               (landed, gap_end, StallReason.LOAD_CONTENTION)):
        start = low if low > start else start  # _clip inline: max(start, low), min(end, gap_end)
        end = gap_end if gap_end < end else end
        if end > start:
            pieces.append((start, end, reason))
    return pieces


class StallLog:
    """A core's stall intervals (only when the run keeps a timeline) and their totals per reason and per
    layer (always)."""

    __slots__ = ("codes", "ends", "keep", "per_layer", "starts", "task_index", "totals")

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.codes = bytearray()
        self.task_index = array("q")  # the core's task the stall was waiting to run (-1: none)
        self.totals = [0.0] * len(REASONS)
        self.per_layer: dict[str, list[float]] = {}

    def add(self, pieces: list[Piece], layer: str, task_index: int) -> None:
        layer_totals = self.per_layer.get(layer)
        if layer_totals is None:
            layer_totals = self.per_layer[layer] = [0.0] * len(REASONS)
        for start, end, reason in pieces:
            code = CODE[reason]
            self.totals[code] += end - start
            layer_totals[code] += end - start
            if self.keep:
                self.starts.append(start)
                self.ends.append(end)
                self.codes.append(code)
                self.task_index.append(task_index)

    def idle(self, start: float, end: float) -> None:
        if end > start:
            self.totals[CODE[StallReason.IDLE]] += end - start
            if self.keep:
                self.starts.append(start)
                self.ends.append(end)
                self.codes.append(CODE[StallReason.IDLE])
                self.task_index.append(-1)

    def __len__(self) -> int:
        return len(self.starts)
