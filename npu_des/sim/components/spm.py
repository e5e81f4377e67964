"""The scratchpad memory shared by all cores: tiles, capacity, replacement, pinning, write-back.

A tile in use (referenced by a task or an in-flight DMA) is never evicted. Unreferenced tiles
stay cached under `lru` (evicted least-recently-released first) or are dropped at once under
`explicit` (software-managed: only pinned tensors persist). Dirty tiles are written back before
their space is reused. Allocation waits for space; whether it can ever come is the caller's
plan-time check, and a run that waits forever ends with the stuck tasks named, not a hang.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from mypy_extensions import mypyc_attr

from npu_des.kinds import Direction, TileKey
from npu_des.sim.clock import Clock, Signal
from npu_des.sim.records import OccupancyLog

if TYPE_CHECKING:
    from npu_des.schedule.tasks import TileRef
    from npu_des.sim.components.dma import DmaEngine


class Occupancy(NamedTuple):
    """SPM use from `cycle` on: bytes allocated, and the part of them that is pinned."""

    cycle: float
    used_bytes: int
    pinned_bytes: int


class Fill(Signal):
    """A tile's fill, signalled when its data is in the SPM; when it was requested, got space, started
    its transfer (None: no transfer) and landed, for stall attribution (npu_des/sim/stalls.py)."""

    __slots__ = ("allocated", "landed", "nbytes", "requested", "started")

    def __init__(self, clock: Clock, nbytes: int) -> None:
        self.clock = clock
        self.waiters = []
        self.triggered = self.processed = False
        self.requested = self.allocated = self.landed = clock.env._now
        self.started: float | None = None
        self.nbytes = nbytes

    def transfer_started(self, cycle: float) -> None:
        self.started = cycle


class _Entry:
    __slots__ = ("allocated", "dirty", "nbytes", "pinned", "ready", "ref", "refs")

    def __init__(self, ref: TileRef, pinned: bool) -> None:
        self.ref = ref
        self.nbytes = ref.nbytes
        self.refs = 1
        self.dirty = False
        self.pinned = pinned
        self.ready: Fill | None = None
        self.allocated = False


@mypyc_attr(allow_interpreted_subclasses=True)  # oracles and fault-injecting tests subclass it
class Scratchpad:
    """Shared SPM. Verbs: acquire / release a tile, pin / unpin a tensor. Keeps its own statistics."""

    def __init__(self, clock: Clock, capacity_bytes: int, policy: str, layers: int,
                 record: bool = True) -> None:
        if policy not in ("lru", "explicit"):
            raise ValueError(f"unknown SPM policy {policy!r} (allowed: lru, explicit)")
        self.clock = clock
        self._env = clock.env
        self.capacity_bytes = capacity_bytes
        self.policy = policy
        self.used_bytes = 0
        self.pinned_bytes = 0
        self.peak_bytes = 0
        self.evictions = 0
        self.hits = [0] * layers
        self.misses = [0] * layers
        self.occupancy: OccupancyLog | None = OccupancyLog() if record else None  # samples, one per change
        self.waiting_for_space: list[int] = []  # bytes wanted by blocked allocations, for diagnostics
        self._entries: dict[TileKey, _Entry] = {}
        self._evictable: OrderedDict[TileKey, _Entry] = OrderedDict()
        self._freeing = 0
        self._writing_back: dict[TileKey, Signal] = {}  # evicted dirty tiles whose store is in flight
        self._pinned_tensors: set[tuple[int, int]] = set()
        self._space = Signal(clock)

    # --- acquire / release -------------------------------------------------------------------
    def acquire(self, ref: TileRef, load: bool, dma: DmaEngine) -> Signal | None:
        """Reference a tile, loading it from DRAM if `load` and absent; returns an event to wait on, or
        None."""
        key = ref.key
        entry = self._entries.get(key)
        if entry is not None:
            if load:
                self.hits[key.layer] += 1
            if entry.refs == 0:
                self._evictable.pop(key, None)
            entry.refs += 1
            return entry.ready
        if load:
            self.misses[key.layer] += 1
        entry = _Entry(ref, (key.layer, key.kind) in self._pinned_tensors)
        self._entries[key] = entry
        if not load and self.capacity_bytes - self.used_bytes >= entry.nbytes:
            self._allocate(entry)
            return None
        ready = entry.ready = Fill(self.clock, entry.nbytes)
        self.clock._urgent.append(partial(self._fill, entry, load, dma))  # clock.spawn(...)
        return ready

    def release(
        self, ref: TileRef, dma: DmaEngine, dirty: bool = False, write_back: bool = False
    ) -> Signal | None:
        """Drop a reference; `dirty` marks new content; `write_back` stores it now (returns the store's
        event)."""
        entry = self._entries[ref.key]
        if dirty:
            entry.dirty = True
        if write_back:
            stored = Signal(self.clock)
            self.clock.spawn(partial(self._write_back_final, entry, dma, stored))
            return stored
        entry.refs -= 1
        if entry.refs == 0:
            self._unreferenced(entry, dma)
        return None

    def release_clean(self, ref: TileRef, dma: DmaEngine) -> None:
        """Drop a reference to a final output that never goes to DRAM (a pinned or fused feature map)."""
        self._entries[ref.key].dirty = False
        self.release(ref, dma)

    # --- pinning -----------------------------------------------------------------------------
    def pin_tensor(self, layer_index: int, kind_code: int) -> None:
        """Tiles of this tensor loaded from now on stay until `unpin_tensor`."""
        self._pinned_tensors.add((layer_index, kind_code))

    def unpin_tensor(self, layer_index: int, kind_code: int, dma: DmaEngine) -> None:
        self._pinned_tensors.discard((layer_index, kind_code))
        for entry in [e for k, e in self._entries.items() if k.layer == layer_index and k.kind == kind_code]:
            if entry.pinned:
                entry.pinned = False
                if entry.allocated:
                    self.pinned_bytes -= entry.nbytes
                if entry.refs == 0:
                    self._unreferenced(entry, dma)
        self._record()

    def pinned(self, ref: TileRef) -> bool:
        """Whether `ref`'s tensor is pinned now."""
        key = ref.key
        return (key.layer, key.kind) in self._pinned_tensors

    def resident(self, ref: TileRef) -> bool:
        return ref.key in self._entries

    # --- internals ---------------------------------------------------------------------------
    def _allocate(self, entry: _Entry) -> None:
        entry.allocated = True
        self.used_bytes += entry.nbytes
        if entry.pinned:
            self.pinned_bytes += entry.nbytes
        if self.used_bytes > self.peak_bytes:
            self.peak_bytes = self.used_bytes
        self._record()

    def _record(self) -> None:
        occupancy = self.occupancy
        if occupancy is not None:  # OccupancyLog.append, inline (one sample per allocation and free)
            occupancy.cycles.append(self._env._now)
            occupancy.used.append(self.used_bytes)
            occupancy.pinned.append(self.pinned_bytes)

    def _fill(self, entry: _Entry, load: bool, dma: DmaEngine) -> None:
        """Make room (evicting, or waiting for space), allocate, load if asked, then signal `ready`."""
        if self.capacity_bytes - self.used_bytes < entry.nbytes and not self._make_room(entry.nbytes, dma):
            self.waiting_for_space.append(entry.nbytes)
            self._space.waiters.append(lambda: self._room_freed(entry, load, dma))
            return
        self._allocate(entry)
        assert entry.ready is not None  # set by `acquire` before the fill starts
        entry.ready.allocated = self._env._now
        if not load:
            self._filled(entry)
            return
        store = self._writing_back.get(entry.ref.key)
        if store is not None and not store.processed:  # read a partial sum back once its store landed
            store.waiters.append(lambda: self._load(entry, dma))
        else:
            self._load(entry, dma)

    def _make_room(self, nbytes: int, dma: DmaEngine) -> bool:
        """Evict unreferenced tiles until `nbytes` fit; False if the allocation has to wait for space."""
        while self.capacity_bytes - self.used_bytes < nbytes:
            if self._evictable and self.capacity_bytes - self.used_bytes + self._freeing < nbytes:
                _, victim = self._evictable.popitem(last=False)
                self._evict(victim, dma)
            else:
                return False
        return True

    def _room_freed(self, entry: _Entry, load: bool, dma: DmaEngine) -> None:
        self.waiting_for_space.remove(entry.nbytes)
        self._fill(entry, load, dma)

    def _load(self, entry: _Entry, dma: DmaEngine) -> None:
        ref = entry.ref
        fill = entry.ready
        assert fill is not None  # set by `acquire` before the fill starts
        dma.move(entry.nbytes, ref.kind, Direction.READ, ref.key, partial(self._filled, entry),
                 fill.transfer_started)

    def _filled(self, entry: _Entry) -> None:
        ready, entry.ready = entry.ready, None
        assert ready is not None  # set by `acquire` before the fill starts
        ready.landed = self._env._now
        ready.succeed()

    def _evict(self, victim: _Entry, dma: DmaEngine) -> None:
        del self._entries[victim.ref.key]
        self.evictions += 1
        if victim.dirty:
            self._freeing += victim.nbytes
            store = self._writing_back[victim.ref.key] = Signal(self.clock)
            self.clock.spawn(lambda: self._write_back_evicted(victim, dma, store))
        else:
            self._free(victim.nbytes)

    def _free(self, nbytes: int) -> None:
        self.used_bytes -= nbytes
        self._record()
        if self.waiting_for_space:
            space, self._space = self._space, Signal(self.clock)
            space.succeed()

    def _unreferenced(self, entry: _Entry, dma: DmaEngine) -> None:
        if entry.pinned:
            return
        if self.policy == "lru":
            self._evictable[entry.ref.key] = entry
            if self.waiting_for_space:
                space, self._space = self._space, Signal(self.clock)
                space.succeed()
        else:
            self._evict(entry, dma)

    def _write_back_evicted(self, victim: _Entry, dma: DmaEngine, store: Signal) -> None:
        ref = victim.ref

        def stored() -> None:
            if self._writing_back.get(ref.key) is store:
                del self._writing_back[ref.key]
            self._freeing -= victim.nbytes
            self._free(victim.nbytes)
            if store.waiters:  # nobody else can find it now
                store.succeed()

        dma.move(victim.nbytes, ref.kind, Direction.WRITE, ref.key, stored)

    def _write_back_final(self, entry: _Entry, dma: DmaEngine, done: Signal) -> None:
        ref = entry.ref
        entry.dirty = False

        def stored() -> None:
            entry.refs -= 1
            if entry.refs == 0:
                self._unreferenced(entry, dma)
            done.succeed()

        dma.move(entry.nbytes, ref.kind, Direction.WRITE, ref.key, stored)
