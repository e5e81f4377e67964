"""Compact logs of what a run did, and the timeline built from them only when someone reads it.

A whole-network run has millions of compute tiles, transfers and SPM samples. Components append
them to columns (about 50 bytes per transfer instead of a few hundred for objects); times are floats
(the clock starts at 0.0); `Timeline` makes `TimelineEvent`s, sorted as reports expect, on first
access, and the CSV writer can stream plain rows without making them at all (`Timeline.rows`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from npu_des.kinds import ALL_KINDS, DIRECTIONS, Direction, Op, TensorKind, TileKey
from npu_des.metrics import TimelineEvent
from npu_des.sim.stalls import REASONS, StallLog

if TYPE_CHECKING:
    from npu_des.schedule.tasks import TileTask

PAIRS: tuple[tuple[TensorKind, Direction], ...] = tuple((k, d) for k in ALL_KINDS for d in DIRECTIONS)
PAIR_CODE: dict[tuple[TensorKind, Direction], int] = {pair: code for code, pair in enumerate(PAIRS)}


class DmaRecord(NamedTuple):
    """One finished transfer: on the channel from `start` to `end`, `nbytes` of one tile."""

    start: float
    end: float
    kind: TensorKind
    direction: Direction
    nbytes: int
    key: TileKey


class TransferLog:
    """A DMA engine's finished transfers, column by column."""

    __slots__ = ("codes", "ends", "keys", "nbytes", "starts")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.nbytes = array("q")
        self.codes = bytearray()
        self.keys: list[TileKey] = []

    def append(self, start: float, end: float, kind: TensorKind, direction: Direction, nbytes: int,
               key: TileKey) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.nbytes.append(nbytes)
        self.codes.append(PAIR_CODE[(kind, direction)])
        self.keys.append(key)

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[DmaRecord]:
        for start, end, nbytes, code, key in zip(self.starts, self.ends, self.nbytes, self.codes, self.keys):
            kind, direction = PAIRS[code]
            yield DmaRecord(start, end, kind, direction, nbytes, key)


class OccupancyLog(Sequence[tuple[float, int, int]]):
    """SPM samples (cycle, used bytes, pinned bytes), one per change."""

    def __init__(self) -> None:
        self.cycles: list[float] = [0.0]
        self.used = array("q", [0])
        self.pinned = array("q", [0])

    def append(self, cycle: float, used: int, pinned: int) -> None:
        self.cycles.append(cycle)
        self.used.append(used)
        self.pinned.append(pinned)

    def __len__(self) -> int:
        return len(self.cycles)

    def __iter__(self) -> Iterator[tuple[float, int, int]]:
        return zip(self.cycles, self.used, self.pinned)

    @overload
    def __getitem__(self, index: int) -> tuple[float, int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[float, int, int]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(self)[index]
        return (self.cycles[index], self.used[index], self.pinned[index])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class ComputeLog:
    """When each of a core's tasks computed and for how many (integer) cycles; the core runs them in
    order, so entry i is task i."""

    __slots__ = ("cycles", "ends", "starts")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.cycles = array("q")

    def append(self, start: float, end: float, cycles: int) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.cycles.append(cycles)

    def __len__(self) -> int:
        return len(self.starts)


class CoreLogs(NamedTuple):
    """One core's logs and the tasks its compute log refers to."""

    core: int
    tasks: Sequence[TileTask]
    compute: ComputeLog
    transfers: TransferLog
    stalls: StallLog | None = None


Row = tuple[str, float, float, str, str, str, str, int, str]  # TimelineEvent's fields, in order


class LazyEvents(Sequence[TimelineEvent]):
    """A sequence of timeline events built on first read (`_build`) and kept; until then a subclass can
    stream its rows without building events."""

    _events: list[TimelineEvent] | None = None

    def _build(self) -> list[TimelineEvent]:
        raise NotImplementedError

    def _built(self) -> list[TimelineEvent]:
        if self._events is None:
            self._events = self._build()
        return self._events

    def __iter__(self) -> Iterator[TimelineEvent]:
        return iter(self._built())

    @overload
    def __getitem__(self, index: int) -> TimelineEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[TimelineEvent]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._built()[index]


class Timeline(LazyEvents):
    """Every compute tile, DMA transfer and DRAM busy interval, sorted by (start, resource, end).

    Ties keep the order compute (core by core), transfers (core by core), DRAM. Nothing is built
    until the timeline is read; `rows()` yields the CSV rows without building events.
    """

    def __init__(self, cores: list[CoreLogs], layer_names: Sequence[str],
                 dram_busy: Sequence[tuple[float, float]]) -> None:
        self._cores = cores
        self._names = layer_names
        self._dram_busy = dram_busy
        self._events: list[TimelineEvent] | None = None
        self._length = len(dram_busy) + sum(
            len(c.compute) + len(c.transfers) + len(c.stalls or ()) for c in cores)

    def __len__(self) -> int:
        return self._length

    def rows(self) -> Iterator[Row]:
        """The rows in timeline order, made one at a time: a stable sort on (start, resource, end) of
        compute, then transfer, then DRAM rows, as `sorted` on the events gives."""
        if self._events is not None:
            yield from (_row(event) for event in self._events)
            return
        import numpy as np

        cores, names = self._cores, self._names
        segments: list[tuple[int, Any, Any]] = []  # (first row, source, core) per block of rows
        starts: list[Any] = []
        ends: list[Any] = []
        resources: list[list[str]] = []
        offset = 0
        for logs in cores:
            segments.append((offset, logs, "compute"))
            starts.append(np.array(logs.compute.starts, dtype=np.float64))
            ends.append(np.array(logs.compute.ends, dtype=np.float64))
            array_unit, vector_unit = f"core{logs.core}.array", f"core{logs.core}.vector"
            resources.append([vector_unit if task.op == Op.VECTOR else array_unit
                              for task in logs.tasks[:len(logs.compute)]])
            offset += len(logs.compute)
        for logs in cores:
            segments.append((offset, logs, "transfers"))
            starts.append(np.array(logs.transfers.starts, dtype=np.float64))
            ends.append(np.array(logs.transfers.ends, dtype=np.float64))
            resources.append([f"core{logs.core}.dma"] * len(logs.transfers))
            offset += len(logs.transfers)
        for logs in cores:
            stalls = logs.stalls
            if stalls is None:
                continue
            segments.append((offset, logs, "stalls"))
            starts.append(np.array(stalls.starts, dtype=np.float64))
            ends.append(np.array(stalls.ends, dtype=np.float64))
            resources.append([f"core{logs.core}.stall"] * len(stalls))
            offset += len(stalls)
        segments.append((offset, None, "dram"))
        starts.append(np.array([start for start, _ in self._dram_busy], dtype=np.float64))
        ends.append(np.array([end for _, end in self._dram_busy], dtype=np.float64))
        resources.append(["dram"] * len(self._dram_busy))
        flat = [name for block in resources for name in block]
        ranking = {name: rank for rank, name in enumerate(sorted(set(flat)))}
        ranks = np.fromiter((ranking[name] for name in flat), dtype=np.int64, count=len(flat))
        order = np.lexsort((np.concatenate(ends), ranks, np.concatenate(starts)))  # stable
        firsts = np.array([first for first, _, _ in segments], dtype=np.int64)
        blocks = np.searchsorted(firsts, order, side="right") - 1
        for index, block in zip(order.tolist(), blocks.tolist()):
            first, logs, what = segments[block]
            local = index - first
            if what == "compute":
                task = logs.tasks[local]
                compute = logs.compute
                yield (flat[index], compute.starts[local], compute.ends[local], task.op, task.layer, task.op,
                       ".".join(map(str, task.tile)), task.macs, "")
            elif what == "transfers":
                transfers = logs.transfers
                key = transfers.keys[local]
                kind, direction = PAIRS[transfers.codes[local]]
                yield (flat[index], transfers.starts[local], transfers.ends[local], kind,
                       names[key.layer], "", ".".join(map(str, key[2:])), transfers.nbytes[local], direction)
            elif what == "stalls":
                stalls = logs.stalls
                task_index = stalls.task_index[local]
                reason = REASONS[stalls.codes[local]]
                if task_index < 0:
                    yield (flat[index], stalls.starts[local], stalls.ends[local], reason, "", "", "", 0, "")
                else:
                    task = logs.tasks[task_index]
                    yield (flat[index], stalls.starts[local], stalls.ends[local], reason, task.layer, "",
                           ".".join(map(str, task.tile)), 0, "")
            else:
                start, end = self._dram_busy[local]
                yield ("dram", start, end, "busy", "", "", "", 0, "")

    def layer_intervals(self) -> Iterator[tuple[str, float, float]]:
        """(layer, start, end) of every compute tile and DMA transfer, read from the logs in log order
        (no events are built)."""
        names = self._names
        for logs in self._cores:
            for task, start, end in zip(logs.tasks, logs.compute.starts, logs.compute.ends):
                yield task.layer, start, end
            for key, start, end in zip(logs.transfers.keys, logs.transfers.starts, logs.transfers.ends):
                yield names[key.layer], start, end

    def _build(self) -> list[TimelineEvent]:
        return [TimelineEvent(*row) for row in self.rows()]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _row(event: TimelineEvent) -> Row:
    return (event.resource, event.start, event.end, event.kind, event.layer, event.op, event.tile,
            event.bytes, event.direction)


def layer_spans(timeline: Sequence[TimelineEvent]) -> dict[str, tuple[float, float]]:
    """Per layer, (first start, last end) of its compute tiles and DMA transfers in any timeline (stall
    intervals and DRAM busy periods are not the layer's work); a lazy one answers from its logs."""
    intervals: Iterable[tuple[str, float, float]] = (
        timeline.layer_intervals() if isinstance(timeline, Timeline) else
        ((event.layer, event.start, event.end) for event in timeline
         if event.layer and event.resource.endswith((".array", ".vector", ".dma"))))
    spans: dict[str, tuple[float, float]] = {}
    for layer, start, end in intervals:
        span = spans.get(layer)
        spans[layer] = (start, end) if span is None else (min(span[0], start), max(span[1], end))
    return spans


def timeline_rows(timeline: Sequence[TimelineEvent]) -> Iterator[Row]:
    """CSV rows of any timeline (a lazy one, with a `rows()` method, streams them without building events)."""
    rows = getattr(timeline, "rows", None)
    if callable(rows):
        return rows()
    return (_row(event) for event in timeline)
