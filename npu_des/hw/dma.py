"""A core's DMA engine: several outstanding transfers between the SPM and the shared DRAM channel."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from npu_des.hw.dram import DramChannel


class DmaEngine:
    """Issues loads and stores for one core; each holds one of `outstanding` slots while on the channel.

    Every transfer is recorded as (start, end, tensor kind, direction, bytes, tile key) in `records`.
    """

    def __init__(self, env: simpy.Environment, core: int, dram: DramChannel, outstanding: int) -> None:
        self.env = env
        self.core = core
        self.dram = dram
        self.slots = simpy.Resource(env, capacity=outstanding)
        self.records: list[tuple[float, float, str, str, int, tuple]] = []
        self.bytes_moved = 0

    def move(self, nbytes: int, kind: str, direction: str, key: tuple) -> Generator[Any, Any, None]:
        """Load (direction 'read') or store ('write') one tile; a generator to run as or inside a process."""
        with self.slots.request() as slot:
            yield slot
            start = self.env.now
            yield self.dram.transfer(nbytes, kind, direction)
            self.bytes_moved += nbytes
            self.records.append((start, self.env.now, kind, direction, nbytes, key))
