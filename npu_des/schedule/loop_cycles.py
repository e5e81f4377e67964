"""Array cycles of one gradient op of a layer, its tiles issued in a loop order and dealt to the cores
round-robin by output tile (`core_mapping: output`, npu_des/schedule/orders.py), in closed form: what
`SystolicArray.charge` sums over them (docs/scalesim.md). The tuned sequential baseline
(npu_des/schedule/tuning.py) weighs shapes and loop orders by it, since a loop order decides which tiles
continue the fold the array holds.

Every tile costs its folds (npu_des.tiling.shapes.op_tile_cycles); a tile whose stationary data (OS: its
output, WS / IS: the input that does not depend on the streamed axis T) is the previous tile's on its
core saves one fold overhead; each core's first tile of the op is one cycle less (SCALE-Sim's report
offset). Dense cycles: zero skipping, reconfiguration and stationary reuse are not counted.

Which consecutive tiles on a core share the stationary data, with count-1 axes moved outermost (the same
stream) and outputs ranked in first-use order (lexicographic over the two output axes in loop order):
- OS (T is the reduction): the outputs sharing the indices of the loop axes outside T form a set of
  s = product of the counts inside T, swept nT times; a core holding exactly one output of a set (all s
  of them if s <= cores, 2 * cores - s if s < 2 * cores) continues it nT - 1 times.
- WS / IS (T is an output axis, P the other, Q the reduction; the stationary tile is (P, Q)): with Q
  innermost nothing continues; with T the inner of T and P and Q outside it, each core's next task is the
  output `cores` ranks on, which continues when it lies in the same row: nU * max(0, nT - cores) per
  sweep of Q; with P the inner one and Q outermost, it continues when `cores` is a multiple of nP.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import ceil, prod
from typing import TYPE_CHECKING

from npu_des.kinds import Op
from npu_des.tiling.compute_model import REPORT_OFFSET, fold_overhead, gradient_dataflows
from npu_des.tiling.shapes import OP_AXES, TileShape, op_tile_cycles
from npu_des.workload.layers import Gemm

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig

REDUCTION = {Op.DX: "n", Op.DW: "m"}  # dX = dY . W^T sums over N, dW = X^T . dY over M
OUTPUT_AXES = {Op.DX: "mk", Op.DW: "nk"}  # dX[m, k], dW[n, k]


def tile_counts(gemm: Gemm, shape: TileShape) -> dict[str, int]:
    """Tiles along G, M, N, K."""
    return {"g": ceil(gemm.groups / shape.tg), "m": ceil(gemm.M / shape.tm), "n": ceil(gemm.N / shape.tn),
            "k": ceil(gemm.K / shape.tk)}


def continued_tiles(counts: dict[str, int], loop: str, op: Op, dataflow: str, cores: int) -> int:
    """Tiles of the op that continue the fold of the tile just before them on their core."""
    streamed = OP_AXES[op][dataflow][2]
    if counts[streamed] == 1:
        return 0
    order = sorted(loop, key=lambda axis: counts[axis] > 1)  # stable: count-1 axes outermost
    at = order.index(streamed)
    groups = counts["g"]
    if dataflow == "os":
        sets = prod(counts[axis] for axis in order[:at])
        size = prod(counts[axis] for axis in order[at + 1:])
        alone = size if size <= cores else max(0, 2 * cores - size)  # outputs alone on their core in a set
        return groups * sets * alone * (counts[streamed] - 1)
    reduction = REDUCTION[op]
    outer, inner = (axis for axis in order if axis != reduction)
    position = order.index(reduction)
    if position == 2:  # Q innermost: consecutive tasks on a core differ in Q
        return 0
    if inner == streamed:  # (U, Q, T) or (Q, U, T): the next output on a core is `cores` along T
        return groups * counts[reduction] * counts[outer] * max(0, counts[inner] - cores)
    if position == 0 and cores % counts[inner] == 0:  # (Q, T, P): `cores` ranks on is the same P
        return groups * counts[reduction] * max(0, counts[outer] * counts[inner] - cores)
    return 0


def op_cycles(gemm: Gemm, shape: TileShape, op: Op, loops: Iterable[str], cores: int, rows: int, cols: int,
              dataflow: str) -> dict[str, int]:
    """Cycles the arrays charge for one op of the layer (whole grid, one partition) in each of `loops`."""
    counts = tile_counts(gemm, shape)
    outputs = counts["g"] * prod(counts[axis] for axis in OUTPUT_AXES[op])
    base = op_tile_cycles(gemm, shape, op, dataflow, rows, cols) - REPORT_OFFSET * min(cores, outputs)
    overhead = fold_overhead(rows, cols, dataflow)
    return {loop: base - overhead * continued_tiles(counts, loop, op, dataflow, cores) for loop in loops}


def op_cycles_floor(gemm: Gemm, shape: TileShape, op: Op, cores: int, rows: int, cols: int,
                    dataflow: str) -> int:
    """A lower bound on `op_cycles` over every loop order, without one: at most all tiles but the first
    on each stationary block (OS: each output; WS / IS: each (P, Q) block) continue a fold, and the report
    offset is taken on every core. The tuned baseline skips shapes this already rules out."""
    counts = tile_counts(gemm, shape)
    spatial_rows, spatial_cols, streamed = OP_AXES[op][dataflow]
    blocks = counts["g"] * counts[spatial_rows] * counts[spatial_cols]
    most_continued = blocks * (counts[streamed] - 1)
    return (op_tile_cycles(gemm, shape, op, dataflow, rows, cols) - REPORT_OFFSET * cores
            - fold_overhead(rows, cols, dataflow) * most_continued)


def array_of(array: ArrayConfig | None) -> tuple[int, int, tuple[str, str]]:
    """(rows, cols, (dX dataflow, dW dataflow)); without an array a 1 x 1 output-stationary one."""
    if array is None:
        return 1, 1, ("os", "os")
    return array.rows, array.cols, gradient_dataflows(array.dataflow)
