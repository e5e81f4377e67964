"""One DRAM channel whose bandwidth is shared fairly by all concurrent transfers (processor sharing).

A transfer waits the fixed latency (on the clock's delay line, not as an event), then joins the
active set; while n transfers are active each progresses at bandwidth / n. We keep a virtual clock
V that advances at bandwidth / n bytes per cycle, so a transfer of S bytes joining at V0 finishes
when V reaches V0 + S: one heap, O(log n) per transfer, exact completion times. A lone transfer of
S bytes takes latency + S / bandwidth.

Each join or departure recomputes when the head of the heap finishes. Only one wake-up is pending:
a new one is queued when the finish moves earlier than it; when it moves later, the pending one wakes
early and re-queues itself at the computed time, in the place (event id) the recomputation had, so
the order of same-time events is what a fresh timeout per change would give.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from mypy_extensions import mypyc_attr

from npu_des.kinds import Direction, TensorKind
from npu_des.sim.clock import Clock, Signal


class BusyInterval(NamedTuple):
    """A span of cycles during which at least one transfer was on the channel."""

    start: float
    end: float


@mypyc_attr(allow_interpreted_subclasses=True)  # oracles and fault-injecting tests subclass it
class DramChannel:
    """Bandwidth-limited channel; records bytes by (tensor kind, direction) and busy intervals."""

    def __init__(self, clock: Clock, bytes_per_cycle: float, latency_cycles: float,
                 record: bool = True) -> None:
        self.clock = clock
        self._env = clock.env
        self._eid = clock._eid
        self.bytes_per_cycle = bytes_per_cycle
        self.latency_cycles = latency_cycles
        self.bytes: dict[tuple[TensorKind, Direction], int] = {}
        self.busy_intervals: list[BusyInterval] = []  # kept only with `record`
        self.busy_cycles = 0.0
        self._record = record
        self.transfers = 0
        self._virtual = 0.0
        self._updated = 0.0
        self._active: list[tuple[float, int, Callable[[], None]]] = []  # (finish tag, seq, finished)
        self._seq = 0
        self._busy_since = 0.0
        self._finish_at = 0.0  # when the head finishes, as computed at the last join or departure
        self._finish_id = -1  # ... and the event id a timeout queued then would have had
        self._pending: tuple[float, int] | None = None  # (time, id) of the wake-up in the queue

    def transfer(self, nbytes: int, kind: TensorKind, direction: Direction) -> Signal:
        """Move `nbytes`; the returned signal fires when the last byte has crossed the channel."""
        done = Signal(self.clock)
        self.start(nbytes, kind, direction, done.succeed)
        return done

    def start(self, nbytes: int, kind: TensorKind, direction: Direction,
              finished: Callable[[], None]) -> None:
        """`transfer` without a signal: `finished()` is called when the last byte has crossed, and
        schedules what follows (a `Signal.succeed`, or `partial(clock.soon, then)`: the same step)."""
        key = (kind, direction)
        self.bytes[key] = self.bytes.get(key, 0) + nbytes
        self.transfers += 1
        if self.latency_cycles > 0:
            self.clock.after_fixed(self.latency_cycles, partial(self._join, nbytes, finished))
        else:
            self._join(nbytes, finished)

    def _join(self, nbytes: int, finished: Callable[[], None]) -> None:
        now = self._env._now
        active = self._active
        if active:  # advance the virtual clock at the old share
            self._virtual += (now - self._updated) * self.bytes_per_cycle / len(active)
        else:
            self._busy_since = now
        self._updated = now
        self._seq += 1
        heapq.heappush(self._active, (self._virtual + nbytes, self._seq, finished))
        self._reschedule()

    def _reschedule(self) -> None:
        tag = self._active[0][0]
        delay = (tag - self._virtual) * len(self._active) / self.bytes_per_cycle
        delay = delay if delay > 0.0 else 0.0  # max(0.0, delay), without the call
        when = self._env._now + delay
        self._finish_at, self._finish_id = when, next(self._eid)  # Clock.next_id()
        if self._pending is None or when < self._pending[0]:
            self._queue_wake()

    def _queue_wake(self) -> None:
        pending = self._pending = (self._finish_at, self._finish_id)
        self.clock.schedule_at(pending[0], pending[1], partial(self._wake, pending))

    def _wake(self, which: tuple[float, int], _event: object = None) -> None:
        if which != self._pending:
            return  # an earlier wake-up replaced this one
        if which != (self._finish_at, self._finish_id):
            self._queue_wake()  # the finish moved later since this was queued
            return
        self._pending = None
        now = self._env._now  # advance the virtual clock at the old share (the channel is busy)
        self._virtual += (now - self._updated) * self.bytes_per_cycle / len(self._active)
        self._updated = now
        tag, _, finished = heapq.heappop(self._active)
        if tag > self._virtual:  # absorb float rounding so later tags stay consistent
            self._virtual = tag
        finished()
        if self._active:
            self._reschedule()
        else:
            self.busy_cycles += now - self._busy_since
            if self._record:
                self.busy_intervals.append(BusyInterval(self._busy_since, now))
