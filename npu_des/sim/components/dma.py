"""A core's DMA engine: several outstanding transfers between the SPM and the shared DRAM channel."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import simpy

from npu_des.kinds import Direction, TensorKind, TileKey
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

    Every transfer is recorded in `records`.
    """

    def __init__(self, env: simpy.Environment, core: int, dram: DramChannel, outstanding: int) -> None:
        self.env = env
        self.core = core
        self.dram = dram
        self.slots = simpy.Resource(env, capacity=outstanding)
        self.records: list[DmaRecord] = []

    def move(
        self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey
    ) -> Generator[Any, Any, None]:
        """Load (direction read) or store (write) one tile; a generator to run as or inside a process."""
        with self.slots.request() as slot:
            yield slot
            start = self.env.now
            yield self.dram.transfer(nbytes, kind, direction)
            self.records.append(DmaRecord(start, self.env.now, kind, direction, nbytes, key))
