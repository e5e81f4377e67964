"""Simulator variants a sweep can run besides the real hardware: idealised oracles that bound a technique.

`dy_once`: every dY tile crosses DRAM at most once per run; a later miss on the same tile is served
at no DRAM cost or time (as if an unbounded side buffer kept it). The SPM still allocates the tile,
so capacity pressure is unchanged and only the dY re-reads disappear: the replication study's
"dY fetched once" ideal for the sequential schedule. Pinning every layer's dY would be the hardware-honest
way,
but the sum of all dY tensors rarely fits the SPM (pins are reserved for the whole run).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from npu_des.kinds import Direction, TensorKind, TileKey
from npu_des.metrics import RunResult
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.components.dram import DramChannel

VARIANTS = ("baseline", "dy_once")

_SEEN_DY: weakref.WeakKeyDictionary[DramChannel, set[TileKey]] = weakref.WeakKeyDictionary()


class DyOnceDmaEngine(DmaEngine):
    """A DMA engine whose dY reads cost DRAM time only the first time a tile is read (shared by all cores)."""

    def move(self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey,
             then: Callable[[], None], started: Callable[[float], None] | None = None) -> None:
        if kind == TensorKind.DY and direction == Direction.READ:
            seen = _SEEN_DY.setdefault(self.dram, set())
            if key in seen:
                then()
                return
            seen.add(key)
        super().move(nbytes, kind, direction, key, then, started)


def _no_check(_result: RunResult) -> None:
    return None


def _check_dy_once(result: RunResult) -> None:
    """Refuse a silently ineffective variant (e.g. if transfers stop going through DmaEngine.move)."""
    if result.dram_bytes[Direction.READ][TensorKind.DY] > result.compulsory_bytes[TensorKind.DY]:
        raise RuntimeError("dy_once variant did not take effect: dY reads exceed one fetch per tile")


def variant_engine(variant: str) -> tuple[type[DmaEngine], Callable[[RunResult], None]]:
    """The DMA engine class to simulate `variant` with (`simulate(..., dma_engine=...)`), and a result
    check."""
    if variant == "baseline":
        return DmaEngine, _no_check
    if variant == "dy_once":
        return DyOnceDmaEngine, _check_dy_once
    raise ValueError(f"unknown variant {variant!r} (allowed: {', '.join(VARIANTS)})")
