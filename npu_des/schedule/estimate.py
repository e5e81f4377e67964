"""Closed-form DRAM traffic of the interleaved order for a tile loop order (MICRO'23 technique 2).

Loop nest over tiles (groups outermost, then `loop_order` outer -> inner); every iteration (m, n, k)
touches X[m,k], W[n,k], dY[m,n], dX[m,k], dW[n,k]. A tensor's tile is re-touched across a loop
that does not index it; that reuse survives if everything touched by the loops *inside* that loop
(its footprint) fits in the SPM, as under LRU with a cyclic sweep that either fits or thrashes.
So for a tensor T indexed by dims D_T:

    fetches(T) = G * prod(T_d for d in D_T) * prod(T_l for loops l not in D_T whose inner footprint > C)

Inputs are read once per fetch. Outputs (dX, dW) are partial sums: written once per fetch and read
back once per fetch after the first. With C large enough everything is fetched once (compulsory).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import permutations
from math import prod

from npu_des.kinds import Direction, TensorKind
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


def _fetches(
    grid: TileGrid, loop_order: str, capacity_bytes: int
) -> tuple[dict[TensorKind, int], dict[TensorKind, float]]:
    groups, m, n, k = grid.counts
    counts = {"m": m, "n": n, "k": k}
    compulsory = grid.compulsory_bytes()
    tensors = [
        t for t in TENSOR_DIMS if t not in (TensorKind.W, TensorKind.DX) or grid.layer.has_input_gradient
    ]
    tile_bytes = {t: compulsory[t] / (groups * prod(counts[d] for d in TENSOR_DIMS[t])) for t in tensors}

    def footprint(inner: str) -> float:
        return sum(tile_bytes[t] * prod(counts[d] for d in TENSOR_DIMS[t] if d in inner) for t in tensors)

    fetches = {}
    for tensor in tensors:
        count = groups * prod(counts[d] for d in TENSOR_DIMS[tensor])
        for position, loop in enumerate(loop_order):
            if loop not in TENSOR_DIMS[tensor] and footprint(loop_order[position + 1 :]) > capacity_bytes:
                count *= counts[loop]
        fetches[tensor] = count
    return fetches, tile_bytes


def interleaved_traffic(
    grid: TileGrid, loop_order: str, capacity_bytes: int
) -> dict[Direction, dict[TensorKind, int]]:
    """Estimated DRAM bytes {direction: {kind: bytes}} of one layer in interleaved order."""
    fetches, tile_bytes = _fetches(grid, loop_order, capacity_bytes)
    groups, m, n, k = grid.counts
    counts = {"m": m, "n": n, "k": k}
    traffic: dict[Direction, dict[TensorKind, int]] = {Direction.READ: {}, Direction.WRITE: {}}
    for tensor, count in fetches.items():
        nbytes = round(count * tile_bytes[tensor])
        if tensor in OUTPUTS:
            distinct = groups * prod(counts[d] for d in TENSOR_DIMS[tensor])
            traffic[Direction.WRITE][tensor] = nbytes
            traffic[Direction.READ][tensor] = round((count - distinct) * tile_bytes[tensor])
        else:
            traffic[Direction.READ][tensor] = nbytes
    return traffic


def total_bytes(traffic: Mapping[Direction, Mapping[TensorKind, int]]) -> int:
    return sum(sum(kinds.values()) for kinds in traffic.values())


def best_loop_order(grid: TileGrid, capacity_bytes: int, default: str = "mnk") -> str:
    """The loop order with the least estimated traffic; ties keep the default, then the listed order."""
    ranked = sorted(
        LOOP_ORDERS,
        key=lambda order: (
            total_bytes(interleaved_traffic(grid, order, capacity_bytes)),
            order != default,
            LOOP_ORDERS.index(order),
        ),
    )
    return ranked[0]
