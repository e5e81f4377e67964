"""How one run may use the SPM, computed once per plan and handed to every planning step.

Every in-flight step (the task computing and `prefetch_depth` steps that load, on each core) holds
its operand and output tiles, so `in_flight_tasks * task_working_set <= spm_fraction * capacity`;
the rest of the SPM caches tiles for reuse or holds pins. A step is a task that needs a tile the
step before it does not hold, plus the tasks after it that use only its tiles (they load nothing and
prepare without a look-ahead slot, npu_des/sim/executor.py), so a step's footprint is one task's
working set and the count stays cores x (prefetch_depth + 1). Tiling, fusion and the pin planner all read
their share from here instead of re-deriving it from the hardware and run options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from npu_des.config import HardwareConfig, RunOptions


@dataclass(frozen=True)
class SpmBudget:
    """SPM capacity, in-flight tile tasks and the fraction of the SPM their working sets may take."""

    capacity_bytes: int
    in_flight_tasks: int   # cores x (prefetch_depth + 1) steps, each one task's working set
    spm_fraction: float
    bytes_per_element: int

    @classmethod
    def of(cls, hw: HardwareConfig, options: RunOptions) -> SpmBudget:
        return cls(hw.spm.capacity_bytes, hw.cores.count * (options.prefetch_depth + 1), options.spm_fraction,
                   hw.bytes_per_element)

    @property
    def tiles_bytes(self) -> int:
        """SPM the in-flight working sets may take together (`spm_fraction` of it)."""
        return int(self.capacity_bytes * self.spm_fraction)

    @property
    def task_bytes(self) -> int:
        """One tile task's share: what the tiler's shapes (and fused or pinned layers' tiles) must fit."""
        return self.tiles_bytes // self.in_flight_tasks

    @property
    def task_limit_bytes(self) -> int:
        """One task's share of the whole SPM: the hard limit when no shape fits `task_bytes`."""
        return self.capacity_bytes // self.in_flight_tasks

    def in_flight_bytes(self, largest_task_bytes: int) -> int:
        """SPM the in-flight tasks can hold at once, given the largest task working set."""
        return self.in_flight_tasks * largest_task_bytes

    def backward_pin_bytes(self, largest_task_bytes: int) -> int:
        """What pins may hold beside the in-flight working sets."""
        return self.capacity_bytes - self.in_flight_bytes(largest_task_bytes)

    def forward_pin_bytes(self, largest_task_bytes: int) -> int:
        """Forward: re-tiled pinned layers and fused steps use `tiles_bytes`, so pins get the rest of both."""
        return self.capacity_bytes - max(self.in_flight_bytes(largest_task_bytes), self.tiles_bytes)
