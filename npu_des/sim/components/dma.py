"""A core's DMA engine: several outstanding transfers between the SPM and the shared DRAM channel."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from npu_des.kinds import Direction, TensorKind, TileKey
from npu_des.sim.clock import Clock, Signal, Step
from npu_des.sim.components.dram import DramChannel


class DmaRecord(NamedTuple):
    """One finished transfer: on the channel from `start` to `end`, `nbytes` of one tile."""

    start: float
    end: float
    kind: TensorKind
    direction: Direction
    nbytes: int
    key: TileKey


class DmaEngine:
    """Issues loads and stores for one core; each holds one of `outstanding` slots while on the channel.

    Slots are a counter and a queue of waiting requests, granted in request order as a SimPy
    `Resource` grants them: one waiting request per new request or per processed release. Every
    transfer is recorded in `records`.
    """

    def __init__(self, clock: Clock, core: int, dram: DramChannel, outstanding: int) -> None:
        self.clock = clock
        self.core = core
        self.dram = dram
        self.outstanding = outstanding
        self.records: list[DmaRecord] = []
        self._users = 0
        self._waiting: deque[Signal] = deque()

    def move(self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey) -> Step:
        """Load (direction read) or store (write) one tile; a generator to run inside a process."""
        slot = Signal(self.clock)
        self._waiting.append(slot)
        self._grant()
        yield slot
        clock = self.clock
        start = clock.env._now
        yield self.dram.transfer(nbytes, kind, direction)
        self.records.append(DmaRecord(start, clock.env._now, kind, direction, nbytes, key))
        self._users -= 1
        clock.soon(self._grant)  # the release, processed one step later, lets the next request in

    def _grant(self) -> None:
        if self._waiting and self._users < self.outstanding:
            self._users += 1
            self._waiting.popleft().succeed()
