"""A core's vector unit: the memory-bound, non-GEMM part of the backward pass.

Batch-norm, activation (ReLU/GELU), softmax and layer-norm backward are elementwise over a
layer's output gradient: dY = f'(saved Y) * dY. We charge a simple rate, `elements_per_cycle`
lanes plus a fixed `startup_cycles` per tile, and let the DMA engine move the bytes (the saved Y
read, the dY read and write), so these ops cost what they really cost: mostly DRAM traffic.
"""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from npu_des.schedule.tasks import TileTask
    from npu_des.sim.clock import Clock, Signal


class VectorUnit:
    """Runs elementwise tile tasks one at a time; records busy cycles and elements."""

    def __init__(self, clock: Clock | None, elements_per_cycle: float, startup_cycles: int) -> None:
        self.clock = clock
        self.elements_per_cycle = elements_per_cycle
        self.startup_cycles = startup_cycles
        self.busy_cycles = 0

    def cycles(self, elements: int) -> int:
        return self.startup_cycles + ceil(elements / self.elements_per_cycle)

    def charge(self, task: TileTask) -> int:
        """Cycles of `task`; counted as busy."""
        cycles = self.cycles(task.macs)  # extents (groups, rows, 1, cols): one element per "MAC"
        self.busy_cycles += cycles
        return cycles

    def compute(self, task: TileTask) -> Signal:
        assert self.clock is not None, "a vector unit built without an environment only prices tiles"
        return self.clock.timeout(self.charge(task))
