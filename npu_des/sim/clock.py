"""The engine's clock: SimPy's event queue for everything that takes time, cheap continuations for the rest.

A tile task used to cost ~21 SimPy events, most of them zero-delay: process starts, resource grants
and releases, "data ready" and "process done" events, AllOf conditions. Here only what advances time
is a SimPy event (a compute tile ending, a transfer's latency elapsing, the DRAM channel's next
completion); a zero-delay step is a `Signal` or a continuation on a deque. The order stays exactly
SimPy's, so every simulated number is what the per-event engine computed:

- SimPy runs events by (time, priority, id), ids counting up as events are scheduled. A zero-delay
  continuation takes an id from the environment's own counter when it is scheduled, and `run`
  interleaves the deque with the queue by that id: same-time events scheduled earlier run first.
- A process start was an URGENT event (before every normal event at the same time): `spawn` queues
  it on a second deque that `run` always empties first.
- `Signal` is an event: `succeed` schedules one continuation that calls the waiters in order;
  afterwards it is processed and a new waiter goes on at once, as a SimPy process does.
- `after_fixed` keeps waits of one constant delay (a DRAM request's latency) on a FIFO instead of
  the event queue: they fall due in the order they were made, so `run` merges the FIFO's head with
  the queue's by (time, id) exactly as the queue would have ordered them.
- `schedule_at` lets the DRAM channel put its next completion at a time it computed earlier, with
  the id it drew then, so one pending wake-up replaces a new timeout per arrival.

This relies on two attributes of `simpy.Environment`, `_queue` and `_eid` (SimPy 3 and 4), used
nowhere else.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from functools import partial
from heapq import heappop, heappush
from typing import Any

import simpy

NORMAL = 1  # simpy.events.NORMAL

Waiter = Callable[[], None]

_TIMED_EVENTS = [0]  # SimPy events run by every clock so far (added once per `run`), for `npu-des bench`


def timed_events_run() -> int:
    """How many SimPy events (queue entries, not continuations) all clocks have run in this process."""
    return _TIMED_EVENTS[0]
Step = Generator["Signal | None", None, None]


class _Wake:
    """A bare queue entry for `Environment.step`: its callbacks run when its time comes."""

    __slots__ = ("_ok", "callbacks")

    def __init__(self, callback: Callable[[Any], None]) -> None:
        self._ok = True
        self.callbacks: list[Callable[[Any], None]] | None = [callback]


class Clock:
    """A SimPy environment plus zero-delay continuations that run in the order SimPy would run them."""

    def __init__(self, env: simpy.Environment | None = None) -> None:
        # time is a float from the start, so every time the run writes has one type (0.0, not 0)
        self.env = env if env is not None else simpy.Environment(initial_time=0.0)
        self._queue: list[Any] = self.env._queue
        self._eid = self.env._eid
        self._soon: deque[tuple[int, Waiter]] = deque()
        self._urgent: deque[Waiter] = deque()
        self._line: deque[tuple[float, int, Waiter]] = deque()  # entries of `after_fixed`, oldest first
        self._line_delay: float | None = None
        self.continuations = 0  # zero-delay steps run (the events they replace, for the benchmark)

    @property
    def now(self) -> float:
        return float(self.env._now)

    def next_id(self) -> int:
        """An id from SimPy's counter: what an event scheduled now would get."""
        return next(self._eid)

    def soon(self, waiter: Waiter) -> None:
        """Run `waiter` as a zero-delay event scheduled now would run."""
        self._soon.append((next(self._eid), waiter))

    def spawn(self, waiter: Waiter) -> None:
        """Run `waiter` as a process started now would begin (before any normal event at this time)."""
        self._urgent.append(waiter)

    def after(self, delay: float, waiter: Waiter) -> None:
        """Run `waiter` `delay` cycles from now (a SimPy timeout; zero delay is a continuation)."""
        if delay > 0:
            wake = _Wake(lambda _event: waiter())
            heappush(self._queue, (self.env._now + delay, NORMAL, next(self._eid), wake))
        else:
            self.soon(waiter)

    def after_event(self, delay: float, callback: Callable[[Any], None]) -> None:
        """`after` for a callback that takes (and ignores) the SimPy event: a `partial` of a method with an
        `_event` parameter wakes up with one Python call fewer than a closure."""
        if delay > 0:
            heappush(self._queue, (self.env._now + delay, NORMAL, next(self._eid), _Wake(callback)))
        else:
            self._soon.append((next(self._eid), partial(callback, None)))

    def schedule_at(self, when: float, event_id: int, callback: Callable[[Any], None]) -> None:
        """Queue `callback` at absolute time `when` (>= now) in the place of an event numbered `event_id`."""
        heappush(self._queue, (when, NORMAL, event_id, _Wake(callback)))

    def timeout(self, delay: float) -> Signal:
        """A signal that fires `delay` cycles from now."""
        signal = Signal(self)
        if delay > 0:
            heappush(self._queue, (self.env._now + delay, NORMAL, next(self._eid),
                                   _Wake(lambda _e: signal.process())))
        else:
            signal.succeed()
        return signal

    def process(self, body: Step, keep: bool = True) -> Signal:
        """Run a generator that yields signals to wait on, like a SimPy process; returns its end signal.

        With `keep` False nobody can wait for its end, so the end costs nothing.
        """
        done = Signal(self)
        Process(self, body, done if keep else None)
        return done

    def after_fixed(self, delay: float, waiter: Waiter) -> None:
        """`after` for a delay that is always the same (the DRAM latency): such entries finish in the order
        they were made, so they wait on a plain FIFO merged into the queue by (time, id), not as events."""
        if self._line_delay is None:
            self._line_delay = delay
        if delay != self._line_delay or delay <= 0:
            self.after(delay, waiter)
        else:
            self._line.append((self.env._now + delay, next(self._eid), waiter))

    def run(self, until: float | None = None) -> None:
        """Run until nothing is left to do, or up to time `until` (SimPy's `Environment.run`)."""
        env, queue, soon, urgent, line = self.env, self._queue, self._soon, self._urgent, self._line
        step = self._step
        continuations = timed = 0
        while True:
            if urgent:
                continuations += 1
                urgent.popleft()()
                continue
            if soon:
                # fast path: nothing timed is due now, so the oldest continuation runs next
                now = env._now
                if not ((line and line[0][0] == now) or (queue and queue[0][0] == now)):
                    continuations += 1
                    soon.popleft()[1]()
                    continue
            # the next timed entry: the queue's head or the delay line's, whichever SimPy would run first
            from_line = False
            if line:
                line_time, line_id, _ = line[0]
                if queue:
                    head = queue[0]
                    from_line = line_time < head[0] or (
                        line_time == head[0] and (NORMAL, line_id) < (head[1], head[2]))
                else:
                    from_line = True
            if soon:
                now, soon_id = env._now, soon[0][0]
                if from_line:
                    if line_time == now and line_id < soon_id:
                        continuations += 1
                        line.popleft()[2]()
                        continue
                elif queue:
                    head = queue[0]
                    if head[0] == now and (head[1], head[2]) < (NORMAL, soon_id):
                        timed += 1
                        step()
                        continue
                continuations += 1
                soon.popleft()[1]()
            elif from_line:
                if until is not None and line_time > until:
                    env._now = max(env._now, until)
                    break
                continuations += 1
                env._now = line_time
                line.popleft()[2]()
            elif queue:
                if until is not None and queue[0][0] > until:
                    env._now = max(env._now, until)
                    break
                timed += 1
                step()
            else:
                if until is not None:
                    env._now = max(env._now, until)
                break
        self.continuations += continuations
        _TIMED_EVENTS[0] += timed

    def _step(self) -> None:
        """`Environment.step` for the queue's head: inline for the clock's own entries (one callback, never
        failing), SimPy's own for any other event."""
        queue = self._queue
        head = queue[0]
        wake = head[3]
        if type(wake) is not _Wake:
            self.env.step()
            return
        heappop(queue)
        self.env._now = head[0]
        callbacks, wake.callbacks = wake.callbacks, None
        assert callbacks is not None  # a queued wake-up runs once
        for callback in callbacks:
            callback(wake)


class Signal:
    """A zero-delay event: waiters registered before it is processed run, in order, one step after
    `succeed`; `processed` afterwards."""

    __slots__ = ("clock", "processed", "triggered", "waiters")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.waiters: list[Waiter] = []
        self.triggered = False
        self.processed = False

    def succeed(self) -> None:
        self.triggered = True
        clock = self.clock
        clock._soon.append((next(clock._eid), self.process))

    def process(self) -> None:
        self.triggered = self.processed = True
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter()

    def wait(self, waiter: Waiter) -> None:
        """Call `waiter` when processed (at once if it already is)."""
        if self.processed:
            waiter()
        else:
            self.waiters.append(waiter)


class Process:
    """A generator driven like a SimPy process: started as an urgent step, resumed when the signal it
    yielded is processed (at once if it already was); its end signal succeeds when it returns."""

    __slots__ = ("body", "done", "resume")

    def __init__(self, clock: Clock, body: Step, done: Signal | None) -> None:
        self.body = body
        self.done = done
        self.resume = self._resume
        clock.spawn(self.resume)

    def _resume(self) -> None:
        body = self.body
        while True:
            try:
                signal = next(body)
            except StopIteration:
                if self.done is not None:
                    self.done.succeed()
                return
            if signal is None or signal.processed:
                continue
            signal.waiters.append(self.resume)
            return


class AllOf:
    """Counts signals down and, once every one is processed, runs `then(last)` one step later, `last`
    being the signal that completed the count (None if there were none): SimPy's AllOf condition with
    its one waiter, without a Signal of its own."""

    __slots__ = ("clock", "left", "then")

    def __init__(self, clock: Clock, signals: list[Signal], then: Callable[[Signal | None], None]) -> None:
        self.clock, self.then = clock, then
        self.left = len(signals)
        if not signals:
            clock.soon(partial(then, None))
        for signal in signals:
            if signal.processed:
                self._check(signal)
            else:
                signal.waiters.append(partial(self._check, signal))

    def _check(self, signal: Signal) -> None:
        self.left -= 1
        if self.left == 0:
            self.clock.soon(partial(self.then, signal))  # where the condition event's succeed() was
