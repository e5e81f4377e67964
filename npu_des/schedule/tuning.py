"""The tuned sequential baseline: per layer the tile shape, and per op the loop order, of least estimated
DRAM traffic (`run.baseline: tuned`), so the baseline gets the same closed-form machinery
(npu_des/schedule/estimate.py) the interleaved orders get.

Each op is estimated alone (sequential runs the ops one after another) over the tiler's own candidate
sizes (`tile_size_candidates`, plus the tiler's default shape, so tuned can only match or beat fixed in
estimated bytes). Candidates must fit the same SPM budget, keep at least one output tile per core, and
cost no more modelled compute cycles than the tiler's choice: ranked by bytes alone, the search picks
tiles so small or ragged that the array idles (measured: ResNet-50 on the small NPU 4.9x slower for
13% fewer bytes). One shape serves both ops of a layer, because the grid gives a dY tile one identity
in the SPM. Ties in bytes go to fewer modelled compute cycles, then larger tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import TYPE_CHECKING

from npu_des.kinds import Op, TensorKind
from npu_des.schedule.estimate import LOOP_ORDERS, TileTotals, loop_traffic, total_bytes
from npu_des.schedule.orders import TRADITIONAL_LOOPS
from npu_des.tiling import TileShape, gemm_cycles, op_dataflow, split, tile_size_candidates
from npu_des.workload.layers import Gemm

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig


@dataclass(frozen=True)
class SequentialTuning:
    """A layer's tuned sequential baseline: its tile shape, each op's loop order, and the estimate."""

    shape: TileShape
    loops: dict[Op, str]
    estimated_bytes: int


@lru_cache(maxsize=65536)
def _patch_sums(gemm: Gemm, tm: int) -> tuple[int, int]:
    """(sum, max) over the M tiles of size `tm` of the input pixels (per channel) each one moves."""
    pixels = [gemm.x_tile_elements(start, size, gemm.k_unit) for start, size in split(gemm.M, tm)]  # 1 chan.
    return sum(pixels), max(pixels)


def tile_totals(gemm: Gemm, shape: TileShape, bytes_per_element: int, has_input_gradient: bool) -> TileTotals:
    """TileGrid.compulsory_bytes of the dense grid of `shape`, without building the grid: X and dX are
    the input patches (halo included), the other tensors their elements."""
    pixels, _ = _patch_sums(gemm, shape.tm)
    x = gemm.groups * (gemm.K // gemm.k_unit if gemm.conv else gemm.K) * pixels * bytes_per_element
    w = gemm.groups * gemm.K * gemm.N * bytes_per_element
    counts = {"m": ceil(gemm.M / shape.tm), "n": ceil(gemm.N / shape.tn), "k": ceil(gemm.K / shape.tk)}
    nbytes = {TensorKind.X: x, TensorKind.W: w if has_input_gradient else 0,
              TensorKind.DY: gemm.groups * gemm.M * gemm.N * bytes_per_element,
              TensorKind.DX: x if has_input_gradient else 0, TensorKind.DW: w}
    return TileTotals(ceil(gemm.groups / shape.tg), counts, nbytes, has_input_gradient)


def working_set_bytes(gemm: Gemm, shape: TileShape, bytes_per_element: int) -> int:
    """tiling.task_working_set_elements in bytes, with the per-size patch maximum memoised."""
    _, pixels = _patch_sums(gemm, shape.tm)
    x_tile = pixels * ceil(shape.tk / gemm.k_unit) if gemm.conv else shape.tm * shape.tk
    return shape.tg * (x_tile + shape.tm * shape.tn + shape.tk * shape.tn) * bytes_per_element


def op_estimates(totals: TileTotals, capacity_bytes: int) -> dict[Op, tuple[str, int]]:
    """Per op, the loop order of least estimated bytes alone (ties: the traditional order) and its bytes."""
    ops = (Op.DX, Op.DW) if totals.has_input_gradient else (Op.DW,)
    best = {}
    for op in ops:
        estimated = {order: total_bytes(loop_traffic(totals, order, capacity_bytes, op))
                     for order in LOOP_ORDERS}
        chosen = min(LOOP_ORDERS, key=lambda order: (estimated[order], order != TRADITIONAL_LOOPS[op], order))
        best[op] = chosen, estimated[chosen]
    return best


def fixed_estimate(totals: TileTotals, capacity_bytes: int) -> int:
    """Estimated bytes of the fixed baseline: each op in its traditional loop order."""
    ops = (Op.DX, Op.DW) if totals.has_input_gradient else (Op.DW,)
    return sum(total_bytes(loop_traffic(totals, TRADITIONAL_LOOPS[op], capacity_bytes, op)) for op in ops)


def _cycles(gemm: Gemm, shape: TileShape, array: ArrayConfig | None) -> int:
    rows, cols = (array.rows, array.cols) if array else (1, 1)
    dataflow = array.dataflow if array else "os"
    tiles = ceil(gemm.M / shape.tm) * ceil(gemm.N / shape.tn) * ceil(gemm.K / shape.tk)
    return tiles * (gemm_cycles(shape.tm, shape.tn, shape.tk, rows, cols, op_dataflow(dataflow, Op.DX))
                    + gemm_cycles(shape.tk, shape.tm, shape.tn, rows, cols, op_dataflow(dataflow, Op.DW)))


def tune_sequential(gemm: Gemm, has_input_gradient: bool, default: TileShape, budget_bytes: int,
                    bytes_per_element: int, capacity_bytes: int, cores: int = 1,
                    array: ArrayConfig | None = None) -> SequentialTuning:
    """The shape and per-op loop orders of least estimated bytes, among the tiler's candidate sizes that
    cost no more modelled compute cycles than the tiler's own choice (so tuning trades no compute for
    traffic: the tiler already minimises cycles, the tuned baseline then minimises bytes among its ties)."""
    unit = gemm.k_unit
    limit = _cycles(gemm, default, array)
    candidates = {default}
    for tm in {*tile_size_candidates(gemm.M), default.tm}:
        for tn in {*tile_size_candidates(gemm.N), default.tn}:
            for tk in {*tile_size_candidates(gemm.K, unit), default.tk}:
                shape = TileShape(default.tg, tm, tn, tk)
                if _cycles(gemm, shape, array) > limit:
                    continue
                if working_set_bytes(gemm, shape, bytes_per_element) > budget_bytes:
                    continue
                outputs = ceil(gemm.groups / default.tg) * ceil(gemm.K / tk) * min(ceil(gemm.M / tm),
                                                                                  ceil(gemm.N / tn))
                if outputs >= cores:
                    candidates.add(shape)
    best: tuple[tuple[int, ...], SequentialTuning] | None = None
    for shape in candidates:
        totals = tile_totals(gemm, shape, bytes_per_element, has_input_gradient)
        estimates = op_estimates(totals, capacity_bytes)
        nbytes = sum(b for _, b in estimates.values())
        key = (nbytes, _cycles(gemm, shape, array), -shape.tm * shape.tn * shape.tk, shape.tm, shape.tn)
        if best is None or key < best[0]:
            loops = {op: order for op, (order, _) in estimates.items()}
            best = key, SequentialTuning(shape, {**TRADITIONAL_LOOPS, **loops}, nbytes)
    assert best is not None  # the default shape is always a candidate
    return best[1]
