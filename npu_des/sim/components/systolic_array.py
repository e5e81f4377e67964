"""A core's systolic array: SCALE-Sim's analytical cycle model, exactly (DESIGN.md, docs/scalesim.md).

The formulas (mapping of M, K, N onto Sr x Sc and T per dataflow; folds * per-fold rows, OS
R + C + T - 2, WS / IS 2R + C + T - 2) live in npu_des.tiling.compute_model, which the tiler uses
too; this component charges tiles with them, in the order a core computes them:
- continuation: a tile whose stationary data is the fold the array still holds from the tile just
  before it (OS: the same output tile, accumulating more K; WS: the same weight tile, IS: the same
  input tile, streaming more rows) runs that fold without a new load, skew or drain, saving
  `fold_overhead` once. Single-fold tiles split along T therefore cost what the unsplit GEMM
  costs; a multi-fold tile still pays every other fold's overhead (the array holds one fold).
- SCALE-Sim's report offset: the first tile of each op on an array is charged one cycle less, so
  an op run back to back on one array equals SCALE-Sim's `Total Cycles` (rows - 1).

On top of the formula, three things a configurable array does (issue 8):
- per-op dataflow (gradient-interleaved scheduler, Unnikrishnan & Parhi, arXiv:2002.05529): dX
  and dW tiles may run in different dataflows; switching between consecutive tiles costs
  `reconfiguration_cycles`.
- stationary reuse (opt-in, `stationary_reuse`): a tile whose stationary operand is held in the
  PEs although another tile ran in between (a configurable PE holds a stationary-operand register,
  WS weight / IS input, and an OS accumulator separately, as the interleaved scheduler's PE does,
  so dW (OS) and dX (WS) tiles that alternate keep both resident) skips the R rows that move it:
  exactly R cycles saved per reused tile. (Back to back, continuation already saves more.)
- zero skipping (SWG): dW tiles stream ceil(T * density) operand pairs (npu_des.sparsity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from math import ceil
from typing import TYPE_CHECKING

from mypy_extensions import mypyc_attr

from npu_des.kinds import GemmExtents, Op, TileKey
from npu_des.tiling.compute_model import (
    REPORT_OFFSET,
    fold_cycles,
    fold_overhead,
    gemm_cycles,
    gemm_mapping,
    gradient_dataflows,
    op_dataflow,
)
from npu_des.tiling.sparsity import streamed_length

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig
    from npu_des.schedule.tasks import TileTask
    from npu_des.sim.clock import Clock, Signal

__all__ = ["ArrayStatistics", "SystolicArray", "gemm_cycles", "gemm_mapping", "op_dataflow", "replay"]

ArrayStatistics = dict[str, int]


@mypyc_attr(allow_interpreted_subclasses=True)  # oracles and fault-injecting tests subclass it
class SystolicArray:
    """Computes tile GEMMs one at a time; records busy cycles, MACs, reconfigurations and reuses."""

    def __init__(
        self,
        clock: Clock | None,
        rows: int,
        cols: int,
        dataflow: str | Mapping[str, str],
        reconfiguration_cycles: int = 0,
        zero_skipping: bool = False,
        stationary_reuse: bool = False,
    ) -> None:
        self.clock = clock
        self.rows, self.cols, self.dataflow = rows, cols, dataflow
        self.input_gradient_dataflow, self.weight_gradient_dataflow = gradient_dataflows(dataflow)
        self.reconfiguration_cycles = reconfiguration_cycles
        self.zero_skipping = zero_skipping
        self.stationary_reuse = stationary_reuse
        self.busy_cycles = 0
        self.macs = 0
        self.reconfigurations = 0
        self.stationary_reuses = 0
        self.reuse_saved_cycles = 0
        self.zero_skipped_cycles = 0
        self.spm_element_accesses = 0
        self.continuations = 0
        self.continuation_saved_cycles = 0
        self._configured: str | None = None
        self._resident: tuple[str, TileKey] | None = None  # (dataflow, stationary key) of the last tile
        self._ops_started: set[tuple[str, str]] = set()
        self._operand_register: tuple[str, TileKey] | None = None  # (dataflow, tile key) held for WS / IS
        self._accumulator: TileKey | None = None  # output tile key held for OS
        self._cost = lru_cache(maxsize=None)(self._tile_cost)

    @classmethod
    def from_config(cls, clock: Clock | None, array: ArrayConfig) -> SystolicArray:
        """An array as `cores.array` describes it (dataflow(s), reconfiguration cost, reuse, zero
        skipping)."""
        return cls(
            clock,
            array.rows,
            array.cols,
            array.dataflow,
            array.reconfiguration_cycles,
            array.zero_skipping,
            array.stationary_reuse,
        )

    def _tile_cost(self, extents: GemmExtents, dataflow: str, density: float) -> tuple[int, int, int]:
        """(cycles, SPM element accesses, stationary elements of the last fold) of one tile.

        Accesses are SCALE-Sim's operand counts: the stationary block once (Sr*Sc), the operand
        streamed along rows once per column fold (col_folds*T*Sr) and the one along columns once
        per row fold (row_folds*T*Sc); zero skipping shortens T in both streams.
        """
        groups, m, k, n = extents
        spatial_rows, spatial_cols, temporal = gemm_mapping(m, k, n, dataflow)
        streamed = streamed_length(temporal, density)
        row_folds, col_folds = ceil(spatial_rows / self.rows), ceil(spatial_cols / self.cols)
        cycles = fold_cycles(spatial_rows, spatial_cols, streamed, self.rows, self.cols, dataflow)
        accesses = spatial_rows * spatial_cols + streamed * (
            col_folds * spatial_rows + row_folds * spatial_cols
        )
        last_fold = (spatial_rows - (row_folds - 1) * self.rows) * (
            spatial_cols - (col_folds - 1) * self.cols
        )
        return groups * cycles, groups * accesses, last_fold

    def charge(self, task: TileTask) -> int:
        """Cycles of `task` right after the tiles charged before it; updates the statistics (no SimPy)."""
        op = task.op
        weight_gradient = op == Op.DW
        dataflow = (
            self.weight_gradient_dataflow
            if weight_gradient
            else self.input_gradient_dataflow
            if op == Op.DX
            else op_dataflow(self.dataflow, op)
        )
        density = task.density if self.zero_skipping and weight_gradient else 1.0
        cycles, accesses, last_fold = self._cost(task.extents, dataflow, density)
        if density < 1.0:
            self.zero_skipped_cycles += self._cost(task.extents, dataflow, 1.0)[0] - cycles
        if dataflow != self._configured:
            if self._configured is not None:
                cycles += self.reconfiguration_cycles
                self.reconfigurations += 1
            self._configured = dataflow
        held = task.output if dataflow == "os" else task.inputs[1] if dataflow == "ws" else task.inputs[0]
        stationary = (dataflow, held.key)
        if stationary == self._resident:  # the fold in the array goes on: no load, skew or drain
            saved = fold_overhead(self.rows, self.cols, dataflow)
            cycles -= saved
            accesses -= last_fold
            self.continuations += 1
            self.continuation_saved_cycles += saved
        elif self.stationary_reuse and self._held(stationary):
            cycles -= self.rows
            accesses -= last_fold
            self.stationary_reuses += 1
            self.reuse_saved_cycles += self.rows
        self._resident = stationary
        if dataflow == "os":
            self._accumulator = stationary[1]
        else:
            self._operand_register = stationary
        op_id = (task.layer, op)
        if op_id not in self._ops_started:
            self._ops_started.add(op_id)
            cycles -= REPORT_OFFSET
        cycles = max(cycles, 0)
        groups, m, k, n = task.extents
        self.busy_cycles += cycles
        self.macs += groups * m * k * n
        self.spm_element_accesses += accesses
        return cycles

    def _held(self, stationary: tuple[str, TileKey]) -> bool:
        """The stationary operand sits in the PE's register (WS / IS) or accumulator (OS) from an earlier
        tile, though another tile ran since."""
        if stationary[0] == "os":
            return self._accumulator == stationary[1]
        return self._operand_register == stationary

    def compute(self, task: TileTask) -> Signal:
        """Occupy the array for the tile; the caller yields the returned event."""
        assert self.clock is not None, "an array built without an environment only charges (replay)"
        return self.clock.timeout(self.charge(task))

    def statistics(self) -> ArrayStatistics:
        """Counters for reports: busy cycles, reconfigurations, stationary reuses and what they saved."""
        return {
            "busy_cycles": self.busy_cycles,
            "macs": self.macs,
            "reconfigurations": self.reconfigurations,
            "reconfiguration_cycles": self.reconfigurations * self.reconfiguration_cycles,
            "stationary_reuses": self.stationary_reuses,
            "reuse_saved_cycles": self.reuse_saved_cycles,
            "zero_skipped_cycles": self.zero_skipped_cycles,
            "spm_element_accesses": self.spm_element_accesses,
            "continuations": self.continuations,
            "continuation_saved_cycles": self.continuation_saved_cycles,
        }


def replay(tasks: Iterable[TileTask], cores: int, array: ArrayConfig) -> list[SystolicArray]:
    """Each core's array after charging its tasks in schedule order, without SimPy.

    A core computes its tasks in exactly that order (executor.py), so the counters equal those of
    the simulated arrays: how reports get reconfigurations and reuses without reaching into a run.
    """
    arrays = [SystolicArray.from_config(None, array) for _ in range(cores)]
    for task in tasks:
        arrays[task.core].charge(task)
    return arrays
