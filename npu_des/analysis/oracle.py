"""SPM policy oracle: replay a schedule's tile accesses through LRU and Belady's OPT (no SimPy).

The access sequence is the schedule's tasks in issue order; each task references its input tiles,
then its output tile. An input (and an output after its first contribution) needs its content, so
a reference to an absent tile is a miss and reads the tile from DRAM. The first contribution to an
output allocates it without a read (every policy pays that allocation identically). Outputs are
dirty after a contribution; a dirty tile evicted before its last contribution is written back (and
read again on its next contribution), and the last contribution writes the final tile back (unless
the task says `write_back=False`, as fused intermediates do), leaving a clean copy.

Where OPT is optimal (the model `replay(..., unit="slots")` implements): every tile occupies one
slot of `capacity_bytes // largest tile bytes` slots, one access stream in issue order, and the
tiles of the task being served are locked. Then Belady's rule (evict the unlocked resident tile
whose next reference is farthest, never-again first) minimises the number of misses: it is
Belady on the flat sequence in which each task's group a b c is followed by a b again, where
locked tiles are the nearest-used tiles, so it never evicts one and every valid locked-group
schedule is also a flat schedule of that sequence. It is optimal for the miss count only, not for
bytes: dirty write-backs and unequal tile sizes are not part of Belady's model. With
`unit="bytes"` (true tile sizes, C bytes) farthest-next-use is a good heuristic, not an optimum.
The simulator differs from both: several cores and prefetched tasks interleave their accesses in
time, and only unreferenced tiles can be evicted, so this stream is an idealisation of its order.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from npu_des.kinds import TileKey
from npu_des.schedule.tasks import Schedule, TileRef, TileTask

NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class Access:
    """One reference of one tile by the task at position `step` of the issue order."""

    step: int
    ref: TileRef
    load: bool    # needs the tile's content if absent (inputs; outputs after their first contribution)
    writes: bool  # an output contribution: the tile becomes dirty
    final: bool   # the output's last contribution: written back now when `store` is set
    store: bool = True


@dataclass(frozen=True, slots=True)
class OracleResult:
    """Counts of one replay. `misses` are references needing a DRAM read; allocations are separate."""

    policy: str
    unit: str
    capacity: int          # slots or bytes, per `unit`
    accesses: int
    hits: int
    misses: int
    allocations: int
    evictions: int
    read_bytes: int
    write_bytes: int

    @property
    def dram_bytes(self) -> int:
        return self.read_bytes + self.write_bytes


def access_sequence(tasks: Iterable[TileTask]) -> list[Access]:
    """Inputs then output of every task, in issue order."""
    accesses: list[Access] = []
    for step, task in enumerate(tasks):
        accesses.extend(Access(step, ref, True, False, False) for ref in task.inputs)
        accesses.append(Access(step, task.output, not task.first, True, task.last,
                               getattr(task, "write_back", True)))
    return accesses


def slot_capacity(capacity_bytes: int, accesses: list[Access]) -> int:
    """Slots of the uniform-size model: capacity over the largest tile."""
    largest = max((a.ref.nbytes for a in accesses), default=1)
    return capacity_bytes // max(1, largest)


def replay(accesses: list[Access], capacity: int, policy: str, unit: str = "slots") -> OracleResult:
    """Replay `accesses` through a cache of `capacity` slots or bytes under `lru` or `opt`."""
    if policy not in ("lru", "opt"):
        raise ValueError(f"unknown policy {policy!r} (allowed: lru, opt)")
    if unit not in ("slots", "bytes"):
        raise ValueError(f"unknown unit {unit!r} (allowed: slots, bytes)")
    next_use = _next_uses(accesses)
    size = (lambda ref: 1) if unit == "slots" else (lambda ref: ref.nbytes)
    group_need = _largest_task_need(accesses, size)
    if group_need > capacity:
        raise ValueError(f"capacity {capacity} {unit} cannot hold one task's tiles ({group_need} {unit})")
    resident: dict[tuple, float] = {}          # key -> next use (opt) / unused (lru)
    refs: dict[tuple, TileRef] = {}
    lru: OrderedDict[tuple, None] = OrderedDict()
    heap: list[tuple[float, tuple]] = []
    dirty: set[tuple] = set()
    used = hits = misses = allocations = evictions = read_bytes = write_bytes = 0
    locked: set[tuple] = set()
    step = -1
    for position, access in enumerate(accesses):
        if access.step != step:
            step, locked = access.step, set()
        ref, key = access.ref, access.ref.key
        locked.add(key)
        if key in resident:
            if access.load:
                hits += 1
        else:
            need = size(ref)
            while capacity - used < need:
                victim = _victim(policy, lru, heap, resident, locked)
                used -= size(refs[victim])
                evictions += 1
                del resident[victim]
                lru.pop(victim, None)
                if victim in dirty:
                    dirty.discard(victim)
                    write_bytes += refs[victim].nbytes
            used += need
            refs[key] = ref
            if access.load:
                misses += 1
                read_bytes += ref.nbytes
            else:
                allocations += 1
        resident[key] = next_use[position]
        if policy == "lru":
            lru[key] = None
            lru.move_to_end(key)
        else:
            heapq.heappush(heap, (-next_use[position], key))
        if access.writes:
            dirty.add(key)
            if access.final:
                dirty.discard(key)
                if access.store:
                    write_bytes += ref.nbytes
    return OracleResult(policy, unit, capacity, len(accesses), hits, misses, allocations, evictions,
                        read_bytes, write_bytes)


def replay_schedule(schedule: Schedule, capacity_bytes: int, unit: str = "slots") -> dict[str, OracleResult]:
    """LRU and OPT of one schedule on an SPM of `capacity_bytes` (as slots of the largest tile, or bytes)."""
    accesses = access_sequence(schedule.tasks)
    capacity = slot_capacity(capacity_bytes, accesses) if unit == "slots" else capacity_bytes
    return {policy: replay(accesses, capacity, policy, unit) for policy in ("lru", "opt")}


def _next_uses(accesses: list[Access]) -> list[float]:
    """For each access, the position of the next access to the same tile (NEVER if none)."""
    result: list[float] = [NEVER] * len(accesses)
    seen: dict[tuple, int] = {}
    for position in range(len(accesses) - 1, -1, -1):
        key = accesses[position].ref.key
        result[position] = seen.get(key, NEVER)
        seen[key] = position
    return result


def _largest_task_need(accesses: list[Access], size: Callable[[TileRef], int]) -> int:
    need: dict[int, dict[TileKey, int]] = {}
    for access in accesses:
        need.setdefault(access.step, {})[access.ref.key] = size(access.ref)
    return max((sum(group.values()) for group in need.values()), default=0)


def _victim(policy: str, lru: OrderedDict[tuple, None], heap: list[tuple[float, tuple]],
            resident: dict[tuple, float], locked: set[tuple]) -> tuple:
    """LRU: least recently referenced unlocked tile. OPT: unlocked tile with the farthest next use."""
    if policy == "lru":
        for key in lru:
            if key not in locked:
                return key
        raise AssertionError("every resident tile is locked")
    stash = []
    try:
        while heap:
            negative_next, key = heapq.heappop(heap)
            if resident.get(key) != -negative_next:
                continue  # stale entry: the tile was referenced again or evicted
            if key in locked:
                stash.append((negative_next, key))
                continue
            return key
        raise AssertionError("every resident tile is locked")
    finally:
        for item in stash:
            heapq.heappush(heap, item)
