"""A core's DMA engine: several outstanding transfers between the SPM and the shared DRAM channel."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial

from mypy_extensions import mypyc_attr

from npu_des.kinds import Direction, TensorKind, TileKey
from npu_des.sim.clock import Clock
from npu_des.sim.components.dram import DramChannel
from npu_des.sim.records import PAIR_CODE, DmaRecord, TransferLog

__all__ = ["DmaEngine", "DmaRecord"]


_Request = tuple[int, TensorKind, Direction, TileKey, Callable[[], None], Callable[[float], None] | None]


@mypyc_attr(allow_interpreted_subclasses=True)  # oracles and fault-injecting tests subclass it
class DmaEngine:
    """Issues loads and stores for one core; each holds one of `outstanding` slots while on the channel.

    Slots are a counter and a queue of waiting requests, granted in request order as a SimPy
    `Resource` grants them: one waiting request per new request or per processed release. Every
    transfer's bytes count per (layer, kind, direction) in `layer_bytes`, and it is logged in
    `records` unless built with `record=False` (sweeps that draw no timeline).
    """

    def __init__(self, clock: Clock, core: int, dram: DramChannel, outstanding: int,
                 record: bool = True) -> None:
        self.clock = clock
        self._env = clock.env
        self.core = core
        self.dram = dram
        self.outstanding = outstanding
        self.records: TransferLog | None = TransferLog() if record else None
        self.layer_bytes: dict[tuple[int, int], int] = {}  # (layer index, PAIR_CODE) -> bytes
        self._users = 0
        self._waiting: deque[_Request] = deque()

    def move(self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey,
             then: Callable[[], None], started: Callable[[float], None] | None = None) -> None:
        """Load (direction read) or store (write) one tile; `started(cycle)` runs when it gets on the
        channel, `then()` once it has landed.

        Call it last in a step: a variant may finish at once (and call `then` before returning).
        """
        self._waiting.append((nbytes, kind, direction, key, then, started))
        if self._users < self.outstanding:  # `_grant`, inline: the queue is not empty now
            self._users += 1
            request = self._waiting.popleft()
            clock = self.clock
            clock._soon.append((next(clock._eid), partial(self._start, request)))  # clock.soon(...)

    def _grant(self) -> None:
        if self._waiting and self._users < self.outstanding:
            self._users += 1
            request = self._waiting.popleft()
            self.clock.soon(partial(self._start, request))

    def _start(self, request: _Request) -> None:
        nbytes, kind, direction = request[:3]
        start = self._env._now
        if request[5] is not None:
            request[5](start)
        then = partial(self._done, start, request)
        self.dram.start(nbytes, kind, direction, partial(self.clock.soon, then))

    def _done(self, start: float, request: _Request) -> None:
        nbytes, kind, direction, key, then, _ = request
        pair = (key.layer, PAIR_CODE[(kind, direction)])
        self.layer_bytes[pair] = self.layer_bytes.get(pair, 0) + nbytes
        if self.records is not None:
            self.records.append(start, self._env._now, kind, direction, nbytes, key)
        self._users -= 1
        clock = self.clock  # the release, processed one step later, lets the next request in:
        clock._soon.append((next(clock._eid), self._grant))  # clock.soon(self._grant)
        then()
