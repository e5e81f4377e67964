"""Oracle DMA engines: idealised transfers that bound what a schedule could gain (not real hardware).

`FreeDyDmaEngine` serves the dW op's own dY copies (`run.dw_dy: free`, keys of kind FREE_DY_CODE,
npu_des/schedule/backward.py) without DRAM traffic or time: MICRO'23's Fig. 6 ideal, in which "dW gets
dY for free and dX reads it normally". Every other transfer is the real DMA engine's.
"""

from __future__ import annotations

from collections.abc import Callable

from npu_des.kinds import Direction, TensorKind, TileKey
from npu_des.schedule.tasks import FREE_DY_CODE
from npu_des.sim.components.dma import DmaEngine


class FreeDyDmaEngine(DmaEngine):
    """A DMA engine whose reads of the dW op's dY copies cost nothing (no record, no channel time)."""

    def move(self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey,
             then: Callable[[], None], started: Callable[[float], None] | None = None) -> None:
        if key.kind == FREE_DY_CODE and direction == Direction.READ:
            then()  # landed at once: no channel time, no record
            return
        super().move(nbytes, kind, direction, key, then, started)
