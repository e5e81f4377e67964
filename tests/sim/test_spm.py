"""The shared scratchpad: in-use tiles are never evicted, LRU order, dirty write-back, pinning."""

from __future__ import annotations

from npu_des.kinds import KIND_CODES, TensorKind, TileKey
from npu_des.schedule.tasks import TileRef
from npu_des.sim.clock import Clock
from npu_des.sim.components import DmaEngine, DramChannel, Scratchpad


def world(capacity: int, policy: str = "lru"):
    clock = Clock()
    dram = DramChannel(clock, bytes_per_cycle=1.0, latency_cycles=0)
    spm = Scratchpad(clock, capacity, policy, layers=1)
    return clock, spm, DmaEngine(clock, 0, dram, outstanding=4), dram


def tile(n: int, kind: TensorKind = TensorKind.X, nbytes: int = 100) -> TileRef:
    return TileRef(TileKey(0, KIND_CODES[kind], 0, n, 0), kind, "layer", nbytes)


def test_in_use_tile_is_never_evicted_and_allocation_waits():
    env, spm, dma, _ = world(capacity=200)
    a, b, c = tile(0), tile(1), tile(2)
    spm.acquire(a, True, dma)
    spm.acquire(b, True, dma)
    waiting = spm.acquire(c, True, dma)  # SPM full of referenced tiles: must wait
    env.run(until=1000)
    assert not waiting.triggered and spm.resident(a) and spm.resident(b)
    spm.release(a, dma)  # a becomes evictable: c takes its place
    env.run(until=2000)
    assert waiting.triggered and not spm.resident(a) and spm.resident(b) and spm.resident(c)
    assert spm.peak_bytes == 200


def test_lru_evicts_least_recently_released_first():
    env, spm, dma, _ = world(capacity=300)
    tiles = [tile(i) for i in range(3)]
    for ref in tiles:
        spm.acquire(ref, True, dma)
    env.run()
    for ref in (tiles[1], tiles[0], tiles[2]):  # release order: 1 oldest
        spm.release(ref, dma)
    spm.acquire(tile(3), True, dma)
    env.run()
    assert not spm.resident(tiles[1]) and spm.resident(tiles[0]) and spm.resident(tiles[2])
    assert spm.hits == [0] and spm.misses == [4] and spm.evictions == 1


def test_dirty_tile_is_written_back_before_its_space_is_reused():
    env, spm, dma, dram = world(capacity=100)
    out = tile(0, "dW")
    spm.acquire(out, False, dma)
    spm.release(out, dma, dirty=True)
    spm.acquire(tile(1), True, dma)
    env.run()
    assert dram.bytes == {("dW", "write"): 100, ("X", "read"): 100}
    # the write (100 cycles at 1 B/cycle) finished before the read could start: 200 cycles in all
    assert env.now == 200
    assert max(used for _, used, _ in spm.occupancy) <= 100


def test_explicit_policy_drops_unreferenced_tiles_at_once():
    env, spm, dma, _ = world(capacity=1000, policy="explicit")
    ref = tile(0)
    spm.acquire(ref, True, dma)
    env.run()
    spm.release(ref, dma)
    assert not spm.resident(ref) and spm.used_bytes == 0


def test_pinned_tiles_stay_until_unpinned():
    env, spm, dma, _ = world(capacity=200)
    spm.pin_tensor(0, 0)
    pinned = tile(0)
    spm.acquire(pinned, True, dma)
    env.run()
    spm.release(pinned, dma)
    other = tile(1, "dW")
    spm.acquire(other, False, dma)
    spm.release(other, dma)
    waiting = spm.acquire(tile(2, "dW"), False, dma)  # needs other's space, never the pinned tile's
    env.run()
    assert waiting is None or waiting.triggered
    assert spm.resident(pinned) and spm.pinned_bytes == 100
    spm.unpin_tensor(0, 0, dma)
    assert spm.pinned_bytes == 0
    spm.acquire(tile(3, "dW"), False, dma)
    env.run()
    assert not spm.resident(pinned)
