"""A core's vector unit: the memory-bound, non-GEMM part of the backward pass.

Batch-norm, activation (ReLU/GELU), softmax and layer-norm backward are elementwise over a
layer's output gradient: dY = f'(saved Y) * dY. We charge a simple rate, `elements_per_cycle`
lanes plus a fixed `startup_cycles` per tile, and let the DMA engine move the bytes (the saved Y
read, the dY read and write), so these ops cost what they really cost: mostly DRAM traffic.
"""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from npu_des.schedule.tasks import TileTask


class VectorUnit:
    """Runs elementwise tile tasks one at a time; records busy cycles and elements."""

    def __init__(self, env: simpy.Environment | None, elements_per_cycle: float, startup_cycles: int) -> None:
        self.env = env
        self.elements_per_cycle = elements_per_cycle
        self.startup_cycles = startup_cycles
        self.busy_cycles = 0

    def cycles(self, elements: int) -> int:
        return self.startup_cycles + ceil(elements / self.elements_per_cycle)

    def compute(self, task: TileTask) -> simpy.Timeout:
        elements = task.macs  # extents (groups, rows, 1, cols): one element per "MAC"
        cycles = self.cycles(elements)
        self.busy_cycles += cycles
        assert self.env is not None, "a vector unit built without an environment only prices tiles"
        return self.env.timeout(cycles)
