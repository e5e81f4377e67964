"""One DRAM channel whose bandwidth is shared fairly by all concurrent transfers (processor sharing).

A transfer waits the fixed latency, then joins the active set; while n transfers are active each
progresses at bandwidth / n. We keep a virtual clock V that advances at bandwidth / n bytes per
cycle, so a transfer of S bytes joining at V0 finishes when V reaches V0 + S: one heap, O(log n)
per transfer, exact completion times. A lone transfer of S bytes takes latency + S / bandwidth.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

import simpy

from npu_des.kinds import Direction, TensorKind


class BusyInterval(NamedTuple):
    """A span of cycles during which at least one transfer was on the channel."""

    start: float
    end: float


class DramChannel:
    """Bandwidth-limited channel; records bytes by (tensor kind, direction) and busy intervals."""

    def __init__(self, env: simpy.Environment, bytes_per_cycle: float, latency_cycles: float) -> None:
        self.env = env
        self.bytes_per_cycle = bytes_per_cycle
        self.latency_cycles = latency_cycles
        self.bytes: dict[tuple[TensorKind, Direction], int] = {}
        self.busy_intervals: list[BusyInterval] = []
        self.transfers = 0
        self._virtual = 0.0
        self._updated = 0.0
        self._active: list[tuple[float, int, simpy.Event]] = []  # (finish tag, seq, event)
        self._seq = 0
        self._generation = 0
        self._busy_since = 0.0

    def transfer(self, nbytes: int, kind: TensorKind, direction: Direction) -> simpy.Event:
        """Move `nbytes`; the returned event fires when the last byte has crossed the channel."""
        key = (kind, direction)
        self.bytes[key] = self.bytes.get(key, 0) + nbytes
        self.transfers += 1
        done = self.env.event()
        if self.latency_cycles > 0:
            self.env.timeout(self.latency_cycles).callbacks.append(lambda _event: self._join(nbytes, done))
        else:
            self._join(nbytes, done)
        return done

    def _advance(self) -> None:
        now = self.env.now
        if self._active:
            self._virtual += (now - self._updated) * self.bytes_per_cycle / len(self._active)
        self._updated = now

    def _join(self, nbytes: int, done: simpy.Event) -> None:
        self._advance()
        if not self._active:
            self._busy_since = self.env.now
        self._seq += 1
        heapq.heappush(self._active, (self._virtual + nbytes, self._seq, done))
        self._reschedule()

    def _reschedule(self) -> None:
        self._generation += 1
        generation = self._generation
        tag = self._active[0][0]
        delay = max(0.0, (tag - self._virtual) * len(self._active) / self.bytes_per_cycle)
        self.env.timeout(delay).callbacks.append(lambda _event: self._finish(generation))

    def _finish(self, generation: int) -> None:
        if generation != self._generation:
            return  # superseded by a later arrival or departure
        self._advance()
        tag, _, done = heapq.heappop(self._active)
        self._virtual = max(self._virtual, tag)  # absorb float rounding so later tags stay consistent
        done.succeed()
        if self._active:
            self._reschedule()
        else:
            self.busy_intervals.append(BusyInterval(self._busy_since, self.env.now))
