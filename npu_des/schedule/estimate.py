"""Closed-form DRAM traffic of a tile loop nest: the fused orders (both gradients) and single ops.

Loop nest over tiles (groups outermost, then `loop_order` outer -> inner); every iteration (m, n, k)
touches the tiles of the tensors it involves: both gradients touch X[m,k], W[n,k], dY[m,n], dX[m,k],
dW[n,k]; the dX op alone dY, W, dX; the dW op alone X, dY, dW. A tensor's tile is re-touched across a
loop that does not index it; that reuse survives if everything touched by the loops *inside* that loop
(its footprint) fits in the SPM, as under LRU with a cyclic sweep that either fits or thrashes. So for
a tensor T indexed by dims D_T:

    fetches(T) = G * prod(T_d for d in D_T) * prod(T_l for loops l not in D_T whose inner footprint > C)

Inputs are read once per fetch. Outputs (dX, dW) are partial sums: written once per fetch and read
back once per fetch after the first. With C large enough everything is fetched once (compulsory).

A data partition along one axis (npu_des/schedule/partition.py) is one more loop, outermost, over the
P partitions; it indexes the tensors that have that axis, so the tensors without it (the duplicated
input and the accumulated output) are fetched P times unless one partition's footprint fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import permutations
from math import ceil, prod

from npu_des.kinds import Direction, Op, TensorKind
from npu_des.tiling import TileGrid

LOOP_ORDERS = tuple("".join(p) for p in permutations("mnk"))
TENSOR_DIMS = {
    TensorKind.X: "mk",
    TensorKind.W: "nk",
    TensorKind.DY: "mn",
    TensorKind.DX: "mk",
    TensorKind.DW: "nk",
}
OUTPUTS = (TensorKind.DX, TensorKind.DW)
OP_TENSORS: dict[Op, tuple[TensorKind, ...]] = {
    Op.DX: (TensorKind.DY, TensorKind.W, TensorKind.DX),
    Op.DW: (TensorKind.X, TensorKind.DY, TensorKind.DW),
}
Traffic = dict[Direction, dict[TensorKind, int]]


@dataclass(frozen=True)
class TileTotals:
    """What the estimate needs of a tiling: tiles per axis and the bytes of every distinct tile once."""

    groups: int
    counts: Mapping[str, int]  # tiles along m, n, k
    nbytes: Mapping[TensorKind, int]  # tensor -> compulsory bytes (each distinct tile once)
    has_input_gradient: bool

    @classmethod
    def of(cls, grid: TileGrid) -> TileTotals:
        groups, m, n, k = grid.counts
        return cls(groups, {"m": m, "n": n, "k": k}, grid.compulsory_bytes(), grid.layer.has_input_gradient)

    def tensors(self, op: Op | None) -> tuple[TensorKind, ...]:
        """The tensors a nest touches: one op's, or both gradients' (no W and dX for the first layer)."""
        if op is not None:
            return OP_TENSORS[op]
        first_layer_lacks = (TensorKind.W, TensorKind.DX)
        return tuple(t for t in TENSOR_DIMS if t not in first_layer_lacks or self.has_input_gradient)


def loop_traffic(totals: TileTotals, loop_order: str, capacity_bytes: int, op: Op | None = None,
                 partition: tuple[str, int] | None = None) -> Traffic:
    """Estimated DRAM bytes {direction: {kind: bytes}} of one nest (`op` None: both gradients fused).

    `partition` (axis, P): the nest runs once per partition, one after another, each over 1/P of the
    tiles along `axis` (rounded up).
    """
    tensors = totals.tensors(op)
    counts = dict(totals.counts)
    loops: list[tuple[str, int]] = []  # (dims the loop indexes, trip count), outer first
    if partition is not None:
        axis, parts = partition
        counts[axis] = ceil(counts[axis] / parts)
        loops.append((axis, parts))
    loops += [(axis, counts[axis]) for axis in loop_order]
    distinct = {t: totals.groups * prod(n for dims, n in loops if dims in TENSOR_DIMS[t]) for t in tensors}
    tile_bytes = {t: totals.nbytes[t] / distinct[t] for t in tensors}

    def footprint(inner: list[tuple[str, int]]) -> float:
        return sum(tile_bytes[t] * prod(n for dims, n in inner if dims in TENSOR_DIMS[t]) for t in tensors)

    traffic: Traffic = {Direction.READ: {}, Direction.WRITE: {}}
    for tensor in tensors:
        fetches = distinct[tensor]
        for position, (dims, trips) in enumerate(loops):
            if dims not in TENSOR_DIMS[tensor] and footprint(loops[position + 1 :]) > capacity_bytes:
                fetches *= trips
        nbytes = round(fetches * tile_bytes[tensor])
        if tensor in OUTPUTS:
            traffic[Direction.WRITE][tensor] = nbytes
            traffic[Direction.READ][tensor] = round((fetches - distinct[tensor]) * tile_bytes[tensor])
        else:
            traffic[Direction.READ][tensor] = nbytes
    return traffic


def interleaved_traffic(grid: TileGrid, loop_order: str, capacity_bytes: int) -> Traffic:
    """Estimated DRAM bytes of one layer in one fused loop nest (both gradients per iteration)."""
    return loop_traffic(TileTotals.of(grid), loop_order, capacity_bytes)


def total_bytes(traffic: Mapping[Direction, Mapping[TensorKind, int]]) -> int:
    return sum(sum(kinds.values()) for kinds in traffic.values())


def best_loop_order(grid: TileGrid, capacity_bytes: int, default: str = "mnk", op: Op | None = None,
                    totals: TileTotals | None = None) -> str:
    """The loop order with the least estimated traffic; ties keep the default, then the listed order."""
    totals = totals or TileTotals.of(grid)
    ranked = sorted(
        LOOP_ORDERS,
        key=lambda order: (
            total_bytes(loop_traffic(totals, order, capacity_bytes, op)),
            order != default,
            LOOP_ORDERS.index(order),
        ),
    )
    return ranked[0]
