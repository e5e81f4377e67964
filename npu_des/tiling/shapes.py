"""Tile shapes: cutting a layer's GEMM into tiles, and choosing the shape with the least modelled time.

A layer's forward GEMM and its two backward GEMMs share the dimensions M, N, K (and groups G), so
one tile shape (tg, tm, tn, tk) serves all. Shapes are ranked with the pure compute model
(npu_des.tiling.compute_model) and a DRAM-bytes estimate of the op(s) the pass runs, never a SimPy
component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from math import ceil, lcm
from typing import TYPE_CHECKING

import numpy as np

from npu_des.kinds import Op
from npu_des.tiling.compute_model import fold_overhead, gradient_dataflows, op_dataflow
from npu_des.workload.layers import ConvGeometry, Gemm

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


EXACT_HALO_TILES = 1 << 16  # beyond this many M tiles the largest X patch is bounded, not enumerated


def largest_patch_pixels(geometry: ConvGeometry, m: int, tm: int) -> int:
    """max over the M tiles of `tm` rows of geometry.patch_pixels(start, size), all tiles at once (numpy):
    exact up to EXACT_HALO_TILES tiles, else an upper bound (the worst start a tile of `tm` rows can
    have), so a 4K image never makes the tiler walk millions of tiles."""
    per_image = geometry.out_h * geometry.out_w
    count = ceil(m / tm)
    if count > EXACT_HALO_TILES:
        images = m // per_image
        if images > 1 and (tm >= per_image or per_image % tm):  # some tile crosses an image boundary
            return min(images, ceil((tm - 1) / per_image) + 1) * geometry.in_h * geometry.in_w
        if geometry.out_w % tm == 0 or tm % geometry.out_w == 0:  # tiles start on row starts (or within
            rows = ceil(tm / geometry.out_w)                      # one row) and never straddle one more
        else:  # worst start: a row's last pixel
            rows = min(geometry.out_h, (tm + geometry.out_w - 2) // geometry.out_w + 1)
        if rows == 1:
            cols = (tm - 1) * geometry.stride + geometry.kernel_w
            return min(geometry.in_h, geometry.kernel_h) * min(geometry.in_w, cols)
        return min(geometry.in_h, (rows - 1) * geometry.stride + geometry.kernel_h) * geometry.in_w
    first = np.arange(count, dtype=np.int64) * tm
    last = np.minimum(first + tm, m) - 1
    image_first, image_last = first // per_image, last // per_image
    row_first = (first % per_image) // geometry.out_w
    row_last = (last % per_image) // geometry.out_w
    one_row = min(geometry.in_h, geometry.kernel_h) * np.minimum(
        geometry.in_w, (last - first) * geometry.stride + geometry.kernel_w)
    many_rows = geometry.in_w * np.minimum(geometry.in_h,
                                           (row_last - row_first) * geometry.stride + geometry.kernel_h)
    whole_images = (image_last - image_first + 1) * geometry.in_h * geometry.in_w
    pixels = np.where(image_first != image_last, whole_images,
                      np.where(row_first == row_last, one_row, many_rows))
    return int(pixels.max())


def channels_touched(tk: int, unit: int) -> int:
    """Most input channels a K tile of `tk` rows touches: tk / unit when it holds whole channels, one
    more than it fills when it splits them (a fold-aligned conv K tile: 32 rows of 3x3 channels)."""
    return tk // unit if tk % unit == 0 else ceil((tk + unit - 1) / unit)


def largest_x_tile_elements(gemm: Gemm, tm: int, tk: int) -> int:
    """Largest X (or dX) tile of one group over the M tiles of size `tm` (see largest_patch_pixels)."""
    if gemm.conv is None:
        return min(tm, gemm.M) * tk
    return channels_touched(tk, gemm.k_unit) * largest_patch_pixels(gemm.conv, gemm.M, tm)


def task_working_set_elements(gemm: Gemm, shape: TileShape) -> int:
    """Largest working set of one tile task: dW task holds X, dY, dW; dX task holds dY, W, dX."""
    x_tile = largest_x_tile_elements(gemm, shape.tm, shape.tk)
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


def axis_candidates(extent: int, unit: int, rows: int, cols: int, line: int = 1) -> list[int]:
    """Tile sizes along one GEMM axis: 1, 2, 4, ... tiles, as multiples of `unit` and also aligned to
    the array's rows and columns, so a split can fall on fold boundaries (where it costs no cycles),
    and to `line` (a conv's output row, so M tiles of whole rows carry no extra halo)."""
    sizes = set(tile_size_candidates(extent, unit))
    if unit > 1:  # fold-aligned K tiles that split a channel (its patch is read by both tiles)
        for dim in {rows, cols}:
            sizes.update(tile_size_candidates(extent, dim))
    if line > 1:  # whole fractions of an output row: M tiles that never straddle two rows
        sizes.update(line // parts for parts in range(1, min(line, 64) + 1) if line % parts == 0)
    for dim in {rows, cols, line}:
        sizes.update(tile_size_candidates(extent, lcm(unit, dim)))
        if unit <= dim < extent:  # the most whole units one fold holds: one-fold tiles along this axis
            sizes.add(balanced(extent, dim // unit * unit, unit))
    return sorted(sizes, reverse=True)


@dataclass(frozen=True)
class TilingCost:
    """What the tiler weighs: the array the ops run on, the DRAM rate and the pass (which ops)."""

    rows: int = 1
    cols: int = 1
    dataflows: tuple[str, ...] = ("os", "os")  # forward: (Y,); backward: (dX, dW)
    bytes_per_cycle: float = 0.0  # 0: rank by cycles alone
    forward: bool = False
    cache_bytes: int = 0  # SPM beside the in-flight working sets, where reused tiles stay

    @classmethod
    def of(cls, array: ArrayConfig | None, bytes_per_cycle: float = 0.0, forward: bool = False,
           cache_bytes: int = 0) -> TilingCost:
        if array is None:
            return cls(forward=forward, dataflows=("os",) if forward else ("os", "os"),
                       bytes_per_cycle=bytes_per_cycle, cache_bytes=cache_bytes)
        dataflows = (op_dataflow(array.dataflow, Op.Y),) if forward else gradient_dataflows(array.dataflow)
        return cls(array.rows, array.cols, dataflows, bytes_per_cycle, forward, cache_bytes)


def choose_tile_shape(
    gemm: Gemm, budget_bytes: int, bytes_per_element: int, cores: int = 1, array: ArrayConfig | None = None,
    cost: TilingCost | None = None,
) -> TileShape | None:
    """Tiles whose task working set fits `budget_bytes`, with the least modelled time of the op(s).

    Modelled time = max(compute cycles, DRAM bytes / bytes per cycle) of the op(s) the pass runs
    (forward: Y; backward: dX and dW), ties to fewer cycles, then fewer bytes, then larger tiles.
    Cycles are compute_model's over every tile, with the continuations the forward loop order gives
    (K innermost: an OS output keeps accumulating); a split on a fold boundary costs nothing.
    Every op keeps at least one output tile per core so no core idles for lack of work. Without a
    `cost`, a 1 x 1 output-stationary array scores backward ops. Returns None when even the smallest
    tile (1 x 1 x one channel) does not fit. Cycles are dense, so sparsity never changes the tiles.
    """
    if cost is None:
        cost = TilingCost.of(array)
    return _best_tile_shape(gemm, budget_bytes, bytes_per_element, cores, cost)


Sizes = np.ndarray | int  # tile sizes: an array over candidates (the tiler) or one shape's (op_tile_cycles)


def _axis_folds(sizes: Sizes, extent: int, dim: int) -> tuple[Sizes, Sizes]:
    """(tile count, sum over tiles of ceil(size / dim)) for each tile size, balanced tiles as `split` cuts."""
    count = -(-extent // sizes)
    last = extent - (count - 1) * sizes
    return count, (count - 1) * (-(-sizes // dim)) + (-(-last // dim))


def _op_cycles(axes: Mapping[str, Sizes], extents: dict[str, int], spatial_rows: str, spatial_cols: str,
               streamed: str, rows: int, cols: int, dataflow: str, continuations: Sizes) -> Sizes:
    """Demand rows of one op over all its tiles: sum_tiles folds * (overhead + T) - overhead per continuation
    (separable: (sum of row folds) * (sum of column folds) * (overhead * T tiles + T))."""
    overhead = fold_overhead(rows, cols, dataflow)
    _, row_folds = _axis_folds(axes[spatial_rows], extents[spatial_rows], rows)
    _, col_folds = _axis_folds(axes[spatial_cols], extents[spatial_cols], cols)
    streamed_tiles = -(-extents[streamed] // axes[streamed])
    return row_folds * col_folds * (overhead * streamed_tiles + extents[streamed]) - overhead * continuations


# Shapes whose modelled time is within this fraction of the fastest are ranked by fewer cycles, then
# fewer tile tasks (each costs simulation time and a DMA round trip the model does not count), then
# fewer bytes: so a memory-bound layer does not buy a 0.1 % faster DRAM estimate with 100x the tasks.
TIME_TOLERANCE = 0.005

# Forward loop over (M, N, K) tiles per dataflow, innermost last: the streamed axis (T) innermost,
# so consecutive tiles continue the fold in the array (OS: the output accumulates over K; WS: the
# weight tile streams more M rows; IS: the input tile streams more N columns).
FORWARD_ORDERS = {"os": "mnk", "ws": "nkm", "is": "mkn"}

# (Sr axis, Sc axis, T axis) of each op's GEMM per dataflow, in the layer's M, N, K:
# Y = X[MxK].W[KxN]; dX = dY[MxN].W^T[NxK]; dW = X^T[KxM].dY[MxN]
OP_AXES = {
    Op.Y: {"os": ("m", "n", "k"), "ws": ("k", "n", "m"), "is": ("k", "m", "n")},
    Op.DX: {"os": ("m", "k", "n"), "ws": ("n", "k", "m"), "is": ("n", "m", "k")},
    Op.DW: {"os": ("k", "n", "m"), "ws": ("m", "n", "k"), "is": ("m", "k", "n")},
}


def op_tile_cycles(gemm: Gemm, shape: TileShape, op: Op, dataflow: str, rows: int, cols: int) -> int:
    """Array rows of all of one op's tiles under `shape`, each charged alone (no continuation, no report
    offset): the sum the tiler scores, which SystolicArray.charge then lowers by continuations."""
    axes = {"m": shape.tm, "n": shape.tn, "k": shape.tk}  # plain ints: the same arithmetic, no arrays
    extents = {"m": gemm.M, "n": gemm.N, "k": gemm.K}
    cycles = _op_cycles(axes, extents, *OP_AXES[op][dataflow], rows, cols, dataflow, 0)
    return gemm.groups * int(cycles)


@lru_cache(maxsize=4096)
def _best_tile_shape(gemm: Gemm, budget_bytes: int, bytes_per_element: int, cores: int,
                     cost: TilingCost) -> TileShape | None:
    """choose_tile_shape's search over every candidate (tm, tn, tk) at once (numpy), memoised: networks
    repeat layer shapes (ResNet-50 has 54 layers, 24 shapes)."""
    unit = gemm.k_unit
    rows, cols = cost.rows, cost.cols
    tm_sizes = axis_candidates(gemm.M, 1, rows, cols, gemm.conv.out_w if gemm.conv else 1)
    x_unit = np.array([largest_x_tile_elements(gemm, tm, unit) for tm in tm_sizes], dtype=np.int64)
    tm = np.array(tm_sizes, dtype=np.int64)[:, None, None]
    x_unit = x_unit[:, None, None]  # X elements per K unit (one channel) of the largest M tile
    tn = np.array(axis_candidates(gemm.N, 1, rows, cols), dtype=np.int64)[None, :, None]
    tk = np.array(axis_candidates(gemm.K, unit, rows, cols), dtype=np.int64)[None, None, :]
    touched = np.array([channels_touched(int(size), unit) for size in tk.ravel()], dtype=np.int64)
    touched = touched[None, None, :]
    elements = x_unit * touched + tm * tn + tk * tn
    fits = elements * bytes_per_element <= budget_bytes
    extents = {"m": gemm.M, "n": gemm.N, "k": gemm.K}
    axes = {"m": tm, "n": tn, "k": tk}
    count_m, count_n, count_k = (-(-extents[a] // axes[a]) for a in "mnk")
    tasks = count_m * count_n * count_k
    smallest = (tm == 1) & (tn == 1) & (tk == unit)
    if cost.forward:
        fits &= (gemm.groups * count_m * count_n >= cores) | smallest
    else:
        fits &= (gemm.groups * count_k * np.minimum(count_m, count_n) >= cores) | smallest
    if not fits.any():
        return None
    cycles = np.zeros(fits.shape, dtype=np.float64)
    ops = (Op.Y,) if cost.forward else (Op.DX, Op.DW)
    for op, dataflow in zip(ops, cost.dataflows, strict=True):
        spatial_rows, spatial_cols, streamed = OP_AXES[op][dataflow]
        continuations = np.zeros(fits.shape, dtype=np.int64)
        if op == Op.Y:  # forward: the streamed axis innermost (FORWARD_ORDERS); its tiles are dealt to
            chain = {"m": count_m, "n": count_n, "k": count_k}[streamed]  # min(cores, chain) cores
            continuations = tasks // chain * (chain - np.minimum(chain, cores))
        cycles = cycles + gemm.groups * _op_cycles(axes, extents, spatial_rows, spatial_cols, streamed,
                                                   rows, cols, dataflow, continuations)
    split_channels = np.where(tk % unit == 0, 0, count_k - 1)  # read by the two K tiles sharing them
    x_total = gemm.groups * x_unit * count_m * (gemm.K // unit + split_channels)  # patches, halo per tile
    w_total = gemm.groups * gemm.K * gemm.N
    y_total = gemm.groups * gemm.M * gemm.N
    cache = cost.cache_bytes // bytes_per_element  # SPM beside the in-flight tiles: keeps reused tiles

    def reread(panel: np.ndarray | int, total: np.ndarray | int, times: np.ndarray) -> np.ndarray:
        """`total` moved once if the `panel` reused across the loop stays cached, else `times` times."""
        return np.where(np.asarray(panel) <= cache, total, total * times)

    if cost.forward:  # per FORWARD_ORDERS; a partial sum spills between K tiles unless its panel is cached
        dataflow = cost.dataflows[0]
        if dataflow == "os":  # m, n, k: X(m, :) over n; W over m
            x_moved = np.where(count_k == 1, x_total, reread(x_unit * (gemm.K // unit), x_total, count_n))
            moved = x_moved + reread(w_total, w_total, count_m) + y_total
        elif dataflow == "ws":  # n, k, m: X over n; Y(:, n) across k
            moved = reread(x_total, x_total, count_n) + w_total + y_total + reread(
                gemm.M * tn, 0, 2 * y_total * (count_k - 1))
        else:  # m, k, n: W over m; Y(m, :) across k
            moved = x_total + reread(w_total, w_total, count_m) + y_total + reread(
                tm * gemm.N, 0, 2 * y_total * (count_k - 1))
    else:  # dX reads dY and W, dW reads X and dY; each operand re-read per tile of the axis it lacks
        moved = y_total * (count_k + count_k) + w_total * count_m + x_total * count_n + x_total + w_total
    moved = moved * bytes_per_element
    time = np.maximum(cycles / cores, moved / cost.bytes_per_cycle) if cost.bytes_per_cycle > 0 else cycles
    time = np.where(fits, time, np.inf)
    near = time <= time.min() * (1 + TIME_TOLERANCE)  # as fast as the fastest, within the tolerance
    big = np.inf
    keys = (np.where(near, cycles, big), np.where(near, tasks, big), np.where(near, moved, big),
            np.where(near, time, big))
    order = np.lexsort(tuple(np.broadcast_to(key, fits.shape).ravel() for key in reversed(keys)))
    best = int(order[0])
    i, j, k = np.unravel_index(best, fits.shape)
    shape = TileShape(1, int(tm[i, 0, 0]), int(tn[0, j, 0]), int(tk[0, 0, k]))
    per_group = task_working_set_elements(gemm, shape) * bytes_per_element
    tg = max(1, min(gemm.groups // cores if gemm.groups >= cores else 1, budget_bytes // per_group))
    return TileShape(balanced(gemm.groups, tg), shape.tm, shape.tn, shape.tk)
