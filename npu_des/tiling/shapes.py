"""Tile shapes: cutting a layer's GEMM into tiles, and choosing the shape with the fewest modelled cycles.

A layer's two backward GEMMs share the dimensions M, N, K (and groups G), so one tile shape
(tg, tm, tn, tk) serves both. Shapes are ranked with the pure compute model
(npu_des.tiling.compute_model), never a SimPy component.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import TYPE_CHECKING

from npu_des.tiling.compute_model import gemm_cycles, gradient_dataflows
from npu_des.workload.layers import Gemm

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig


@dataclass(frozen=True, slots=True)
class TileShape:
    """Tile extents in elements: groups per tile, and M, N, K extents."""

    tg: int
    tm: int
    tn: int
    tk: int


def split(extent: int, tile: int) -> tuple[tuple[int, int], ...]:
    """(start, size) of each tile of `extent` cut into tiles of at most `tile`."""
    return tuple((start, min(tile, extent - start)) for start in range(0, extent, tile))


def balanced(extent: int, tile: int, unit: int = 1) -> int:
    """Same tile count as `tile`, but sizes evened out (multiples of `unit`) so the last tile is not a
    sliver."""
    count = ceil(extent / tile)
    return min(extent, ceil(ceil(extent / count) / unit) * unit)


def task_working_set_elements(gemm: Gemm, shape: TileShape) -> int:
    """Largest working set of one tile task: dW task holds X, dY, dW; dX task holds dY, W, dX."""
    x_tile = max(gemm.x_tile_elements(start, size, shape.tk) for start, size in split(gemm.M, shape.tm))
    dy_tile = shape.tm * shape.tn
    w_tile = shape.tk * shape.tn
    return shape.tg * (x_tile + dy_tile + w_tile)


def tile_size_candidates(extent: int, unit: int = 1) -> list[int]:
    """Tile sizes giving 1, 2, 4, ... tiles along an axis (balanced, multiples of `unit`)."""
    sizes: list[int] = []
    count = 1
    while True:
        size = balanced(extent, ceil(extent / count / unit) * unit, unit)
        if not sizes or size < sizes[-1]:
            sizes.append(size)
        if size <= unit:
            return sizes
        count *= 2


def choose_tile_shape(
    gemm: Gemm, budget_bytes: int, bytes_per_element: int, cores: int = 1, array: ArrayConfig | None = None
) -> TileShape | None:
    """Tiles whose task working set fits `budget_bytes`, with the fewest modelled compute cycles.

    Splitting a GEMM adds fill/drain per fold, so tiles are chosen by the cycle formula of both
    backward ops (ties go to larger tiles, which move fewer bytes). Every op keeps at least one
    output tile per core (dX tiles are (m, k), dW tiles (k, n)) so no core idles for lack of work.
    Without an `array`, a 1 x 1 output-stationary one ranks the shapes. Returns None when even the
    smallest tile (1 x 1 x one channel) does not fit. Cycles are the
    dense ones, each op in its own dataflow, so sparsity never changes the tiles.
    """
    if array is None:
        return _best_tile_shape(gemm, budget_bytes, bytes_per_element, cores, 1, 1, "os", "os")
    return _best_tile_shape(
        gemm,
        budget_bytes,
        bytes_per_element,
        cores,
        array.rows,
        array.cols,
        *gradient_dataflows(array.dataflow),
    )


@lru_cache(maxsize=4096)
def _best_tile_shape(
    gemm: Gemm,
    budget_bytes: int,
    bytes_per_element: int,
    cores: int,
    rows: int,
    cols: int,
    dx_dataflow: str,
    dw_dataflow: str,
) -> TileShape | None:
    """choose_tile_shape's search, memoised: networks repeat layer shapes (ResNet-50 has 54 layers, 24
    shapes)."""
    unit = gemm.k_unit
    best: tuple[float, int, TileShape] | None = None
    for tm in tile_size_candidates(gemm.M):
        tiles_m = ceil(gemm.M / tm)
        x_first = gemm.x_tile_elements(0, tm, unit) // unit  # X elements per K unit, first M tile
        for tn in tile_size_candidates(gemm.N):
            tiles_n = ceil(gemm.N / tn)
            for tk in tile_size_candidates(gemm.K, unit):
                elements = x_first * (tk // unit) + tm * tn + tk * tn
                if elements * bytes_per_element > budget_bytes:
                    continue
                tiles_k = ceil(gemm.K / tk)
                if gemm.groups * tiles_k * min(tiles_m, tiles_n) < cores and (tm, tn, tk) != (1, 1, unit):
                    continue
                cycles = (
                    tiles_m
                    * tiles_n
                    * tiles_k
                    * (
                        gemm_cycles(tm, tn, tk, rows, cols, dx_dataflow)
                        + gemm_cycles(tk, tm, tn, rows, cols, dw_dataflow)
                    )
                )
                key = (cycles, -tm * tn * tk, TileShape(1, tm, tn, tk))
                if best is None or key[:2] < best[:2]:
                    best = key
    if best is None:
        return None
    shape = best[2]
    while task_working_set_elements(gemm, shape) * bytes_per_element > budget_bytes:  # halo of later M tiles
        if shape.tm == 1:
            return None
        shape = TileShape(1, balanced(gemm.M, ceil(shape.tm / 2)), shape.tn, shape.tk)
    per_group = task_working_set_elements(gemm, shape) * bytes_per_element
    tg = max(1, min(gemm.groups // cores if gemm.groups >= cores else 1, budget_bytes // per_group))
    return TileShape(balanced(gemm.groups, tg), shape.tm, shape.tn, shape.tk)
