"""Runs a core's tile tasks: prefetch the next task's operands while the current one computes.

Per core, `prefetch_depth` tasks load ahead of the one computing (double buffering at depth 1).
A task first waits for the ops that produce its layer's dY, then references its input tiles
(loading misses over the core's DMA engine) and its output tile, waits for the previous
contribution to that output to finish, computes, releases, and writes back a final output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from mypy_extensions import mypyc_attr

from npu_des.kinds import Op, OpId, TensorKind, TileKey, WaitReason
from npu_des.schedule.tasks import Schedule, TileRef, TileTask
from npu_des.sim.clock import AllOf, Clock, Signal
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.components.spm import Fill, Scratchpad
from npu_des.sim.components.systolic_array import SystolicArray
from npu_des.sim.components.vector_unit import VectorUnit
from npu_des.sim.records import ComputeLog
from npu_des.sim.stalls import LoadTimes, StallLog, split_gap


class ComputeRecord(NamedTuple):
    """One tile task on a core's array or vector unit: when it computed."""

    start: float
    end: float
    task: TileTask


class Waiting(NamedTuple):
    """What a prepared task waits for, kept so a stuck run can say it; `task_id` names the awaited task."""

    task: TileTask
    reason: WaitReason
    task_id: int | None = None


_new_tuple = tuple.__new__


class _Countdown:
    """Calls `then` once `left` more tasks have landed (tile dependencies are counted, not events)."""

    __slots__ = ("left", "then")

    def __init__(self, left: int, then: Callable[[], None]) -> None:
        self.left, self.then = left, then

    def landed(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.then()


@mypyc_attr(allow_interpreted_subclasses=True)  # oracles and fault-injecting tests subclass it
class Synchronizer:
    """Shared completion state: which tasks and ops are done, as events tasks can wait on."""

    def __init__(self, clock: Clock, schedule: Schedule) -> None:
        self.clock = clock
        self.done = bytearray(len(schedule.tasks))
        self.landed = bytearray(len(schedule.tasks))  # final output computed and, if stored, written back
        for task in schedule.tasks:
            if task.after and any(not 0 <= i < len(schedule.tasks) or i == task.id for i in task.after):
                raise ValueError(f"task {task.id}: `after` {task.after} names no other task of the schedule")
        self._landing: dict[int, list[_Countdown]] = {}  # task id -> tasks whose `after` names it
        self._task_events: dict[int, Signal] = {}
        self.remaining: dict[OpId, int] = {}
        for task in schedule.tasks:
            op = (task.layer, task.op)
            self.remaining[op] = self.remaining.get(op, 0) + 1 + (task.last and task.write_back)
        self.op_events = {op: Signal(clock) for op in self.remaining}
        self.op_end: dict[OpId, float] = {}
        self.deps: dict[OpId, tuple[Signal, ...]] = {
            op: tuple(self.op_events[dep] for dep in schedule.op_deps.get(op, ()) if dep in self.op_events)
            for op in self.remaining}
        self.on_op_done: list[Callable[[OpId], None]] = []
        self.computed = 0
        self.progress: Callable[[int], None] | None = None  # called with tasks done, every ~1% of them
        self._progress_step = max(1, len(schedule.tasks) // 100)

    def task_event(self, task_id: int) -> Signal | None:
        """Event that fires when task `task_id` has computed; None if it already has."""
        if self.done[task_id]:
            return None
        event = self._task_events.get(task_id)
        if event is None:
            event = self._task_events[task_id] = Signal(self.clock)
        return event

    def wait_after(self, task: TileTask, then: Callable[[], None]) -> bool:
        """True if every task in `task.after` has landed; else `then()` runs when the last one lands."""
        pending = [task_id for task_id in task.after if not self.landed[task_id]]
        if not pending:
            return True
        countdown = _Countdown(len(pending), then)
        for task_id in pending:
            self._landing.setdefault(task_id, []).append(countdown)
        return False

    def _land(self, task_id: int) -> None:
        self.landed[task_id] = 1
        for countdown in self._landing.pop(task_id, ()):
            countdown.landed()

    def task_computed(self, task: TileTask) -> None:
        self.done[task.id] = 1
        if not (task.last and task.write_back):  # nothing to store: it has landed
            self._land(task.id)
        self.computed += 1
        if self.progress is not None and self.computed % self._progress_step == 0:
            self.progress(self.computed)
        event = self._task_events.pop(task.id, None)
        if event is not None:
            event.succeed()
        self._count((task.layer, task.op))

    def output_written(self, task: TileTask) -> None:
        """`task`'s final output is in DRAM."""
        self._land(task.id)
        self._count((task.layer, task.op))

    def _count(self, op: OpId) -> None:
        self.remaining[op] -= 1
        if self.remaining[op] == 0:
            self.op_end[op] = self.clock.env._now
            self.op_events[op].succeed()
            for callback in self.on_op_done:
                callback(op)


def _tile_keys(task: TileTask) -> tuple[TileKey, ...]:
    inputs = task.inputs
    if len(inputs) == 2:
        return task.output.key, inputs[0].key, inputs[1].key
    return (task.output.key, *[ref.key for ref in inputs])


class CoreExecutor:
    """One NPU core: its systolic array and DMA engine working through its share of the schedule."""

    def __init__(self, clock: Clock, core: int, array: SystolicArray, dma: DmaEngine,
                 spm: Scratchpad, tasks: list[TileTask], sync: Synchronizer, prefetch_depth: int,
                 vector: VectorUnit) -> None:
        self.clock, self.core = clock, core
        self.array, self.dma, self.spm, self.vector = array, dma, spm, vector
        self.tasks = tasks
        self.sync = sync
        self.prefetch_depth = prefetch_depth
        self.compute_log = ComputeLog()  # entry i: when tasks[i] computed
        self.finished = False
        self.waiting: dict[int, Waiting] = {}  # task id -> what it waits for
        self._preparing: deque[Signal] = deque()
        self._launched = 0
        self._loads = bytearray(len(tasks))  # task i starts a step and is counted in `_loading_ahead`
        self._loading_ahead = 0  # launched tasks after the computing one that start a step (load)
        self._step_keys: tuple[TileKey, ...] = ()  # tiles of the step the last launched task belongs to
        self.stalls = StallLog(keep=dma.records is not None)  # why the array waited (sim/stalls.py)
        self.free_since: float = clock.env._now  # when the array last became free
        self._loading_since: dict[int, float] = {}  # task id -> when its preparation began to wait for loads
        self._last_load: dict[int, LoadTimes] = {}  # task id -> the load its preparation waited for last

    @property
    def compute_records(self) -> list[ComputeRecord]:
        """The compute log as records (start, end, task), in the order the core ran them."""
        log = self.compute_log
        return [ComputeRecord(*record) for record in zip(log.starts, log.ends, self.tasks)]

    def run(self) -> None:
        """Start working through the tasks (call once, as a process start: `clock.spawn(executor.run)`)."""
        self._next(0)

    def _next(self, index: int) -> None:
        """Launch preparations ahead of task `index`, up to `prefetch_depth` steps that load; compute it
        once prepared.

        A step is a task that needs a tile (an input, or its output) outside the step before it, plus
        the tasks after it whose tiles it already references (a second dX/dW task of a shared dY tile
        whose other operand and output are in the step, a continuation of its partial sum): those load
        nothing and take no SPM space beyond the step's first task, so they prepare without using up a
        look-ahead slot, and the in-flight working set stays `prefetch_depth + 1` tasks' per core, as
        the tile budget (npu_des/tiling/budget.py) assumes.
        """
        tasks, loads = self.tasks, self._loads
        launched, count = self._launched, len(self.tasks)
        if 0 < index < launched and loads[index]:
            self._loading_ahead -= 1  # task index - 1 computed; task index is no longer ahead
        if index == count:
            self.finished = True
            return
        clock, prepare, preparing = self.clock, self._prepare, self._preparing
        spawn = clock._urgent.append  # clock.spawn
        step, ahead, depth = self._step_keys, self._loading_ahead, self.prefetch_depth
        while launched < count:
            task = tasks[launched]
            starts_step = launched == index or task.output.key not in step
            if not starts_step:
                for ref in task.inputs:
                    if ref.key not in step:
                        starts_step = True
                        break
            if starts_step:
                if launched > index:  # counted in `_loading_ahead`
                    if ahead >= depth:
                        break
                    loads[launched] = 1
                    ahead += 1
                step = _tile_keys(task)
            prepared = Signal(clock)
            spawn(partial(prepare, task, prepared))
            preparing.append(prepared)
            launched += 1
        self._launched, self._step_keys, self._loading_ahead = launched, step, ahead
        prepared = self._preparing.popleft()
        if prepared.processed:
            self._compute(index)
        else:
            prepared.waiters.append(partial(self._compute, index))

    def _compute(self, index: int) -> None:
        task = self.tasks[index]
        start = self.clock.env._now
        loading_since = self._loading_since.pop(task.id)
        load = self._last_load.pop(task.id, None)
        if start > self.free_since:
            dram = self.dma.dram
            self.stalls.add(split_gap(self.free_since, start, loading_since, load, dram.latency_cycles,
                                      dram.bytes_per_cycle), task.layer, index)
        cycles = (self.vector if task.op == Op.VECTOR else self.array).charge(task)
        self.clock.after_event(cycles, partial(self._computed, index, start, cycles))

    def _computed(self, index: int, start: float, cycles: int, _event: object = None) -> None:
        """Record the tile, release its tiles, write back a final output, then go on with the next task."""
        task = self.tasks[index]
        spm, dma = self.spm, self.dma
        self.compute_log.append(start, self.clock.env._now, cycles)
        self.free_since = self.clock.env._now
        for ref in task.inputs:
            spm.release(ref, dma)
        if task.write_back or not task.last:
            written = spm.release(task.output, dma, dirty=True, write_back=task.last)
        else:  # a feature map kept on chip: never stored; a fused one is handed to its consumer
            written = None
            if not task.hand_over:
                spm.release_clean(task.output, dma)
        for ref in task.frees:
            spm.release(ref, dma)
        self.sync.task_computed(task)
        if written is not None:
            written.waiters.append(partial(self.sync.output_written, task))
        self._next(index + 1)

    def _prepare(self, task: TileTask, prepared: Signal) -> None:
        """Get `task` ready to compute, in steps: the tasks in its `after` have landed, its fused input
        exists, its dY producers are done (X and W load meanwhile), its operands are referenced, its
        previous contribution is done, all loaded."""
        if task.after and not self.sync.wait_after(task, lambda: self._prepare_landed(task, prepared)):
            self._wait(task, WaitReason.AFTER)
        elif task.frees:
            self._prepare_landed(task, prepared)
        else:  # no fused input: straight to the dY producers
            self._wait_for_dy(task, prepared)

    def _prepare_landed(self, task: TileTask, prepared: Signal) -> None:
        if task.frees and (handed := self.sync.task_event(task.prev)) is not None:
            self._wait(task, WaitReason.PREVIOUS_CONTRIBUTION, task.prev)
            # a fused consumer's input is its producer task's output: let it exist first
            handed.wait(lambda: self._wait_for_dy(task, prepared))
        else:
            self._wait_for_dy(task, prepared)

    def _wait_for_dy(self, task: TileTask, prepared: Signal) -> None:
        pending = [event for event in self.sync.deps[(task.layer, task.op)] if not event.triggered]
        if not pending:
            self._reference(task, prepared, [], task.inputs)
            return
        spm, dma = self.spm, self.dma
        # X and W are in DRAM from the start: fetch them while dY is still being produced (a pin's
        # lifetime starts with its op, so pinned tiles wait)
        early = [ref for ref in task.inputs if ref.kind != TensorKind.DY and not spm.pinned(ref)]
        later = tuple(ref for ref in task.inputs if ref not in early)
        loads = [event for ref in early if (event := spm.acquire(ref, True, dma)) is not None]
        self._wait(task, WaitReason.DY_PRODUCERS)

        def next_producer(index: int) -> None:
            while index < len(pending):
                event = pending[index]
                index += 1
                if not event.triggered:
                    event.wait(partial(next_producer, index))
                    return
            self._reference(task, prepared, loads, later)

        next_producer(0)

    def _reference(self, task: TileTask, prepared: Signal, loads: list[Signal],
                   later: tuple[TileRef, ...]) -> None:
        spm, dma = self.spm, self.dma
        loads += [event for ref in later if (event := spm.acquire(ref, True, dma)) is not None]
        output = task.output
        previous = self.sync.task_event(task.prev) if task.prev >= 0 else None
        # A resident partial sum is referenced at once, so it survives between back-to-back
        # contributions; an absent one is read back only after the previous contribution is done.
        read_back_later = not (previous is None or spm.resident(output))
        if not read_back_later and (event := spm.acquire(output, not task.first, dma)) is not None:
            loads.append(event)
        if previous is None:  # (what it waited for so far is replaced by `_load` before anyone can look)
            self._load(task, prepared, loads, False)
        else:
            self._wait(task, WaitReason.PREVIOUS_CONTRIBUTION, task.prev)
            previous.wait(partial(self._load, task, prepared, loads, read_back_later))

    def _load(self, task: TileTask, prepared: Signal, loads: list[Signal], read_back: bool) -> None:
        if read_back and (event := self.spm.acquire(task.output, True, self.dma)) is not None:
            loads.append(event)
        self._loading_since[task.id] = self.clock.env._now  # every wait before this one was a dependency
        if loads:
            self.waiting[task.id] = _new_tuple(Waiting, (task, WaitReason.OPERANDS, None))  # _wait, inline
            AllOf(self.clock, loads, partial(self._prepared, task, prepared))
        else:
            self._prepared(task, prepared, None)

    def _wait(self, task: TileTask, reason: WaitReason, task_id: int | None = None) -> None:
        """Record what `task`'s preparation waits for from now on (for a stuck run's error)."""
        self.waiting[task.id] = _new_tuple(Waiting, (task, reason, task_id))  # a Waiting, sans __new__

    def _prepared(self, task: TileTask, prepared: Signal, last_load: Signal | None) -> None:
        self.waiting.pop(task.id, None)
        if isinstance(last_load, Fill):
            self._last_load[task.id] = last_load  # landed: its times no longer change
        prepared.succeed()
