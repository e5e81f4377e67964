"""Simulator variants a sweep can run besides the real hardware: idealised oracles that bound a technique.

`dy_once`: every dY tile crosses DRAM at most once per run; a later miss on the same tile is served
at no DRAM cost or time (as if an unbounded side buffer kept it). The SPM still allocates the tile,
so capacity pressure is unchanged and only the dY re-reads disappear. It bounds what any dY-reuse
schedule (interleaving, pinning) can gain. Pinning every layer's dY would be the hardware-honest way,
but the sum of all dY tensors rarely fits the SPM (pins are reserved for the whole run).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import npu_des.sim
from npu_des.hw import DmaEngine
from npu_des.hw.dram import DramChannel
from npu_des.metrics import RunResult

VARIANTS = ("baseline", "dy_once")

_SEEN_DY: weakref.WeakKeyDictionary[DramChannel, set[tuple]] = weakref.WeakKeyDictionary()


class DyOnceDmaEngine(DmaEngine):
    """A DMA engine whose dY reads cost DRAM time only the first time a tile is read (shared by all cores)."""

    def move(self, nbytes: int, kind: str, direction: str, key: tuple) -> Generator[Any, Any, None]:
        if kind == "dY" and direction == "read":
            seen = _SEEN_DY.setdefault(self.dram, set())
            if key in seen:
                return
            seen.add(key)
        yield from super().move(nbytes, kind, direction, key)


def _no_check(_result: RunResult) -> None:
    return None


def _check_dy_once(result: RunResult) -> None:
    """Refuse a silently ineffective patch (e.g. if sim.py stops building DmaEngine by that name)."""
    if result.dram_bytes["read"]["dY"] > result.compulsory_bytes["dY"]:
        raise RuntimeError("dy_once variant did not take effect: dY reads exceed one fetch per tile")


@contextmanager
def variant_simulation(variant: str) -> Iterator[Callable[[RunResult], None]]:
    """Within this block `npu_des.sim.simulate` runs `variant`; yields a check to apply to the result.

    The patch is process-wide, so callers running threads must serialise simulations (sweep.py does).
    """
    if variant == "baseline":
        yield _no_check
    elif variant == "dy_once":
        with mock.patch.object(npu_des.sim, "DmaEngine", DyOnceDmaEngine):
            yield _check_dy_once
    else:
        raise ValueError(f"unknown variant {variant!r} (allowed: {', '.join(VARIANTS)})")
