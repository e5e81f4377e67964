"""The tuned sequential baseline: per layer the tile shape, and per op the loop order, of least estimated
DRAM traffic (`run.baseline: tuned`), so the baseline gets the same closed-form machinery
(npu_des/schedule/estimate.py) the interleaved orders get.

Each op is estimated alone (sequential runs the ops one after another) over the tiler's own candidate
sizes (`axis_candidates`, plus the tiler's default shape, so tuned can only match or beat fixed in
estimated bytes). Candidates must fit the same SPM budget, keep at least one output tile per core, and
cost no more modelled compute cycles than the tiler's choice in the traditional loops (the fixed
baseline): ranked by bytes alone, the search picks tiles so small or ragged that the array idles
(measured: ResNet-50 on the small NPU 4.9x slower for 13% fewer bytes). Cycles are what the arrays
charge for the shape *and* the loop order (npu_des/schedule/loop_cycles.py): a loop order decides which
tiles continue the fold the array holds, so a loop of fewer bytes may cost cycles. One shape serves
both ops of a layer, because the grid gives a dY tile one identity in the SPM. Ties in bytes go to
fewer modelled compute cycles, then larger tiles, then the traditional loops.

Modelled compute is not simulated time (memory stalls, contention), so the driver keeps a layer's tuned
choice only where the layer alone simulates no slower with it than with the fixed baseline's tiles and
loops (npu_des/sim/autotune.py); the summary records per layer which baseline ran (`baseline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from math import ceil
from typing import TYPE_CHECKING

from npu_des.kinds import Op, TensorKind
from npu_des.schedule.estimate import LOOP_ORDERS, TileTotals, loop_traffic, total_bytes
from npu_des.schedule.loop_cycles import array_of, op_cycles, op_cycles_floor
from npu_des.schedule.orders import TRADITIONAL_LOOPS
from npu_des.tiling import TileShape, split
from npu_des.tiling.shapes import axis_candidates, largest_x_tile_elements
from npu_des.workload.layers import Gemm

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig

Array = tuple[int, int, tuple[str, str]]  # rows, cols, (dX dataflow, dW dataflow)


@dataclass(frozen=True)
class SequentialTuning:
    """A layer's tuned sequential baseline: its tile shape, each op's loop order, and the estimate."""

    shape: TileShape
    loops: dict[Op, str]
    estimated_bytes: int


@lru_cache(maxsize=65536)
def _patch_sum(gemm: Gemm, tm: int) -> int:
    """Input pixels (per channel) the M tiles of size `tm` move, halo included."""
    return sum(gemm.x_tile_elements(start, size, gemm.k_unit) for start, size in split(gemm.M, tm))


@lru_cache(maxsize=65536)
def _channels(gemm: Gemm, tk: int) -> int:
    """Input channels summed over the K tiles of size `tk` (a fold-aligned tile that splits a channel
    shares it with its neighbour, and both move its patch; TileGrid.channels)."""
    unit = gemm.k_unit
    return sum(-(-(start + size) // unit) - start // unit for start, size in split(gemm.K, tk))


def tile_totals(gemm: Gemm, shape: TileShape, bytes_per_element: int, has_input_gradient: bool) -> TileTotals:
    """TileGrid.compulsory_bytes of the dense grid of `shape`, without building the grid: X and dX are
    the input patches (halo included), the other tensors their elements."""
    rows = _channels(gemm, shape.tk) * _patch_sum(gemm, shape.tm) if gemm.conv else gemm.K * gemm.M
    x = gemm.groups * rows * bytes_per_element
    w = gemm.groups * gemm.K * gemm.N * bytes_per_element
    counts = {"m": ceil(gemm.M / shape.tm), "n": ceil(gemm.N / shape.tn), "k": ceil(gemm.K / shape.tk)}
    nbytes = {TensorKind.X: x, TensorKind.W: w if has_input_gradient else 0,
              TensorKind.DY: gemm.groups * gemm.M * gemm.N * bytes_per_element,
              TensorKind.DX: x if has_input_gradient else 0, TensorKind.DW: w}
    return TileTotals(ceil(gemm.groups / shape.tg), counts, nbytes, has_input_gradient)


@lru_cache(maxsize=65536)
def _x_tile(gemm: Gemm, tm: int, tk: int) -> int:
    return largest_x_tile_elements(gemm, tm, tk)


def working_set_bytes(gemm: Gemm, shape: TileShape, bytes_per_element: int) -> int:
    """tiling.task_working_set_elements in bytes, with the largest X patch memoised."""
    return shape.tg * (_x_tile(gemm, shape.tm, shape.tk) + shape.tm * shape.tn + shape.tk * shape.tn) \
        * bytes_per_element


def _ops(has_input_gradient: bool) -> tuple[Op, ...]:
    return (Op.DX, Op.DW) if has_input_gradient else (Op.DW,)


def loop_estimates(totals: TileTotals, capacity_bytes: int, op: Op) -> dict[str, int]:
    """Estimated bytes of one op alone in each loop order."""
    return {order: total_bytes(loop_traffic(totals, order, capacity_bytes, op)) for order in LOOP_ORDERS}


def loop_cycles(gemm: Gemm, shape: TileShape, op: Op, cores: int, array: Array) -> dict[str, int]:
    """Modelled array cycles of one op in each loop order (npu_des/schedule/loop_cycles.py)."""
    rows, cols, dataflows = array
    return op_cycles(gemm, shape, op, LOOP_ORDERS, cores, rows, cols, dataflows[0 if op == Op.DX else 1])


def fixed_cycles(gemm: Gemm, shape: TileShape, has_input_gradient: bool, cores: int = 1,
                 array: ArrayConfig | None = None) -> int:
    """Modelled array cycles of the fixed baseline: each op in its traditional loop order."""
    return sum(loop_cycles(gemm, shape, op, cores, array_of(array))[TRADITIONAL_LOOPS[op]]
               for op in _ops(has_input_gradient))


def fixed_estimate(totals: TileTotals, capacity_bytes: int) -> int:
    """Estimated bytes of the fixed baseline: each op in its traditional loop order."""
    return sum(loop_estimates(totals, capacity_bytes, op)[TRADITIONAL_LOOPS[op]]
               for op in _ops(totals.has_input_gradient))


def best_loops(totals: TileTotals, capacity_bytes: int, cycles: dict[Op, dict[str, int]],
               limit: int | None = None) -> tuple[tuple[int, ...], dict[Op, str]] | None:
    """The loop order per op of least estimated bytes whose summed cycles stay within `limit` (ties:
    fewer cycles, then the traditional orders): ((bytes, cycles, ...) ranking key, loops), or None."""
    ops = tuple(cycles)
    estimates = {op: loop_estimates(totals, capacity_bytes, op) for op in ops}
    best: tuple[tuple[int, ...], dict[Op, str]] | None = None
    for orders in product(LOOP_ORDERS, repeat=len(ops)):
        spent = sum(cycles[op][order] for op, order in zip(ops, orders))
        if limit is not None and spent > limit:
            continue
        key = (sum(estimates[op][order] for op, order in zip(ops, orders)), spent,
               sum(order != TRADITIONAL_LOOPS[op] for op, order in zip(ops, orders)),
               *(LOOP_ORDERS.index(order) for order in orders))
        if best is None or key < best[0]:
            best = key, dict(zip(ops, orders))
    return best


def tune_loops(gemm: Gemm, shape: TileShape, totals: TileTotals, capacity_bytes: int, cores: int = 1,
               array: ArrayConfig | None = None) -> dict[Op, str]:
    """Per op the loop order of least estimated bytes on a given shape (`run.tile` set), at no more
    modelled cycles than the traditional loops."""
    ops = _ops(totals.has_input_gradient)
    cycles = {op: loop_cycles(gemm, shape, op, cores, array_of(array)) for op in ops}
    limit = sum(cycles[op][TRADITIONAL_LOOPS[op]] for op in cycles)
    chosen = best_loops(totals, capacity_bytes, cycles, limit)
    assert chosen is not None  # the traditional loops are within the limit
    return {**TRADITIONAL_LOOPS, **chosen[1]}


def tune_sequential(gemm: Gemm, has_input_gradient: bool, default: TileShape, budget_bytes: int,
                    bytes_per_element: int, capacity_bytes: int, cores: int = 1,
                    array: ArrayConfig | None = None) -> SequentialTuning:
    """The shape and per-op loop orders of least estimated bytes, among the tiler's candidate sizes and
    the loop orders that cost no more modelled compute cycles than the tiler's own choice in the
    traditional loops (so tuning trades no compute for traffic: the tiler already weighs cycles, the
    tuned baseline then minimises bytes among shapes and loops as fast on the array)."""
    return _tune(gemm, has_input_gradient, default, budget_bytes, bytes_per_element, capacity_bytes, cores,
                 array_of(array))


@lru_cache(maxsize=4096)
def _tune(gemm: Gemm, has_input_gradient: bool, default: TileShape, budget_bytes: int, bytes_per_element: int,
          capacity_bytes: int, cores: int, array: Array) -> SequentialTuning:
    """tune_sequential, memoised: networks repeat layer shapes."""
    ops = _ops(has_input_gradient)
    rows, cols, _ = array
    limit = sum(loop_cycles(gemm, default, op, cores, array)[TRADITIONAL_LOOPS[op]] for op in ops)
    line = gemm.conv.out_w if gemm.conv else 1
    candidates = {default}
    for tm in {*axis_candidates(gemm.M, 1, rows, cols, line), default.tm}:
        for tn in {*axis_candidates(gemm.N, 1, rows, cols), default.tn}:
            for tk in {*axis_candidates(gemm.K, gemm.k_unit, rows, cols), default.tk}:
                shape = TileShape(default.tg, tm, tn, tk)
                if working_set_bytes(gemm, shape, bytes_per_element) > budget_bytes:
                    continue
                outputs = ceil(gemm.groups / default.tg) * ceil(gemm.K / tk) * min(ceil(gemm.M / tm),
                                                                                  ceil(gemm.N / tn))
                if outputs >= cores:
                    candidates.add(shape)
    best: tuple[tuple[int, ...], SequentialTuning] | None = None
    for shape in candidates:
        if sum(op_cycles_floor(gemm, shape, op, cores, rows, cols, array[2][0 if op == Op.DX else 1])
               for op in ops) > limit:
            continue  # cheaply ruled out: even the best loop orders would be slower than the tiler's
        cycles = {op: loop_cycles(gemm, shape, op, cores, array) for op in ops}
        if sum(min(per_loop.values()) for per_loop in cycles.values()) > limit:
            continue  # no loop order makes this shape as fast as the tiler's
        totals = tile_totals(gemm, shape, bytes_per_element, has_input_gradient)
        chosen = best_loops(totals, capacity_bytes, cycles, limit)
        if chosen is None:
            continue
        (nbytes, spent, *loop_key), loops = chosen
        key = (nbytes, spent, -shape.tm * shape.tn * shape.tk, shape.tm, shape.tn, *loop_key)
        if best is None or key < best[0]:
            best = key, SequentialTuning(shape, {**TRADITIONAL_LOOPS, **loops}, nbytes)
    assert best is not None  # the default shape in the traditional loops is always a candidate
    return best[1]
