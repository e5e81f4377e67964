"""GEMM -> tiles that fit the SPM.

A layer's two backward GEMMs share the dimensions M, N, K (and groups G), so one tile shape
(tg, tm, tn, tk) serves both, and the tile index (g, m, n, k) names the dY tile (g, m, n), the
X / dX tile (g, m, k), and the W / dW tile (g, n, k). Both orders use the same tiles, so traffic
differences between them come from the order alone.

Every in-flight task (the one computing and `prefetch_depth` loading, on each core) holds its
operand and output tiles, so `in_flight_tasks * task_working_set <= spm_fraction * capacity`;
the rest of the SPM caches tiles for reuse. If even the hard limit (fraction 1) cannot hold, the
run is impossible and we say so before simulating.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil

from npu_des.errors import ConfigError
from npu_des.sparsity import Sparsity, compressed_bytes
from npu_des.workload.layers import Gemm, Layer


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
    """Same tile count as `tile`, but sizes evened out (multiples of `unit`) so the last tile is not a sliver."""
    count = ceil(extent / tile)
    return min(extent, ceil(ceil(extent / count) / unit) * unit)


def task_working_set_elements(gemm: Gemm, shape: TileShape) -> int:
    """Largest working set of one tile task: dW task holds X, dY, dW; dX task holds dY, W, dX."""
    x_tile = max(gemm.x_tile_elements(start, size, shape.tk) for start, size in split(gemm.M, shape.tm))
    dy_tile = shape.tm * shape.tn
    w_tile = shape.tk * shape.tn
    return shape.tg * (x_tile + dy_tile + w_tile)


def _candidates(extent: int, unit: int = 1) -> list[int]:
    """Tile sizes giving 1, 2, 4, ... tiles along an axis (balanced, multiples of `unit`)."""
    sizes, count = [], 1
    while True:
        size = balanced(extent, ceil(extent / count / unit) * unit, unit)
        if not sizes or size < sizes[-1]:
            sizes.append(size)
        if size <= unit:
            return sizes
        count *= 2


def choose_tile_shape(gemm: Gemm, budget_bytes: int, bytes_per_element: int, cores: int = 1,
                      array: tuple[int, int, str | dict[str, str]] = (1, 1, "os")) -> TileShape | None:
    """Tiles whose task working set fits `budget_bytes`, with the fewest modelled compute cycles.

    Splitting a GEMM adds fill/drain per fold, so tiles are chosen by the cycle formula of both
    backward ops (ties go to larger tiles, which move fewer bytes). Every op keeps at least one
    output tile per core (dX tiles are (m, k), dW tiles (k, n)) so no core idles for lack of work.
    Returns None when even the smallest tile (1 x 1 x one channel) does not fit. Cycles are the
    dense ones, each op in its own dataflow, so sparsity never changes the tiles.
    """
    from npu_des.hw.systolic_array import op_dataflow  # the formula only; no SimPy state

    rows, cols, dataflows = array
    return _best_tile_shape(gemm, budget_bytes, bytes_per_element, cores, rows, cols,
                            op_dataflow(dataflows, "dX"), op_dataflow(dataflows, "dW"))


@lru_cache(maxsize=4096)
def _best_tile_shape(gemm: Gemm, budget_bytes: int, bytes_per_element: int, cores: int, rows: int, cols: int,
                     dx_dataflow: str, dw_dataflow: str) -> TileShape | None:
    """choose_tile_shape's search, memoised: networks repeat layer shapes (ResNet-50 has 54 layers, 24 shapes)."""
    from npu_des.hw.systolic_array import gemm_cycles

    unit = gemm.k_unit
    best: tuple[float, int, TileShape] | None = None
    for tm in _candidates(gemm.M):
        tiles_m = ceil(gemm.M / tm)
        x_first = gemm.x_tile_elements(0, tm, unit) // unit  # X elements per K unit, first M tile
        for tn in _candidates(gemm.N):
            tiles_n = ceil(gemm.N / tn)
            for tk in _candidates(gemm.K, unit):
                elements = x_first * (tk // unit) + tm * tn + tk * tn
                if elements * bytes_per_element > budget_bytes:
                    continue
                tiles_k = ceil(gemm.K / tk)
                if gemm.groups * tiles_k * min(tiles_m, tiles_n) < cores and (tm, tn, tk) != (1, 1, unit):
                    continue
                cycles = tiles_m * tiles_n * tiles_k * (gemm_cycles(tm, tn, tk, rows, cols, dx_dataflow)
                                                        + gemm_cycles(tk, tm, tn, rows, cols, dw_dataflow))
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


@dataclass(frozen=True)
class TileGrid:
    """A layer's tiles: index ranges along G, M, N, K and the DRAM bytes of each operand tile.

    `x_density` / `dy_density` (fraction of nonzeros) and `compression` shrink X and dY tiles
    (npu_des.sparsity); W, dX and dW tiles are always dense.
    """

    layer: Layer
    index: int
    shape: TileShape
    bytes_per_element: int
    g_tiles: tuple[tuple[int, int], ...]
    m_tiles: tuple[tuple[int, int], ...]
    n_tiles: tuple[tuple[int, int], ...]
    k_tiles: tuple[tuple[int, int], ...]
    x_density: float = 1.0
    dy_density: float = 1.0
    compression: str = "none"

    @classmethod
    def build(cls, layer: Layer, index: int, shape: TileShape, bytes_per_element: int,
              sparsity: Sparsity | None = None) -> TileGrid:
        gemm = layer.gemm
        x_density, dy_density = sparsity.densities(layer) if sparsity else (1.0, 1.0)
        return cls(layer, index, shape, bytes_per_element, split(gemm.groups, shape.tg), split(gemm.M, shape.tm),
                   split(gemm.N, shape.tn), split(gemm.K, shape.tk), x_density, dy_density,
                   sparsity.compression if sparsity else "none")

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.g_tiles), len(self.m_tiles), len(self.n_tiles), len(self.k_tiles)

    def dx_bytes(self, g: int, m: int, k: int) -> int:
        """dX tiles (and dense X tiles): the input patch (halo included), not the im2col expansion."""
        m_start, m_size = self.m_tiles[m]
        return self.g_tiles[g][1] * self.layer.gemm.x_tile_elements(m_start, m_size, self.k_tiles[k][1]) \
            * self.bytes_per_element

    def x_bytes(self, g: int, m: int, k: int) -> int:
        """X tiles as moved: the dX-sized patch, compressed at `x_density` (rows = patch pixels or M rows)."""
        dense = self.dx_bytes(g, m, k)
        if self.compression == "none" or self.x_density >= 1.0:
            return dense
        gemm = self.layer.gemm
        elements = dense // self.bytes_per_element
        row_length = ceil(self.k_tiles[k][1] / gemm.k_unit)  # channels per patch pixel, or K per row
        return compressed_bytes(elements, elements // row_length, self.x_density, self.bytes_per_element,
                                self.compression)

    def w_bytes(self, g: int, n: int, k: int) -> int:
        """W and dW tiles."""
        return self.g_tiles[g][1] * self.n_tiles[n][1] * self.k_tiles[k][1] * self.bytes_per_element

    def dy_bytes(self, g: int, m: int, n: int) -> int:
        """dY tiles, compressed at `dy_density` (rows of the tile are its M rows)."""
        rows = self.g_tiles[g][1] * self.m_tiles[m][1]
        return compressed_bytes(rows * self.n_tiles[n][1], rows, self.dy_density, self.bytes_per_element,
                                self.compression)

    def y_bytes(self, g: int, m: int, n: int) -> int:
        """Forward output tiles (dense)."""
        return self.g_tiles[g][1] * self.m_tiles[m][1] * self.n_tiles[n][1] * self.bytes_per_element

    def gemm_extents(self, g: int, m: int, n: int, k: int) -> tuple[int, int, int, int]:
        """(groups, M, N, K) extents of tile (g, m, n, k), for the compute-cycle formula."""
        return self.g_tiles[g][1], self.m_tiles[m][1], self.n_tiles[n][1], self.k_tiles[k][1]

    def compulsory_bytes(self) -> dict[str, int]:
        """Each distinct tile of each tensor moved once: the floor any order can reach."""
        gs, ms, ns, ks = (range(c) for c in self.counts)
        x = sum(self.x_bytes(g, m, k) for g in gs for m in ms for k in ks)
        w = sum(self.w_bytes(g, n, k) for g in gs for n in ns for k in ks)
        dy = sum(self.dy_bytes(g, m, n) for g in gs for m in ms for n in ns)
        dx = sum(self.dx_bytes(g, m, k) for g in gs for m in ms for k in ks) if self.layer.has_input_gradient else 0
        return {"X": x, "W": w if self.layer.has_input_gradient else 0, "dY": dy, "dX": dx, "dW": w}


    def forward_compulsory_bytes(self) -> dict[str, int]:
        """Forward pass floor: X, W and Y tiles each moved once (Y written, X and W read)."""
        gs, ms, ns, ks = (range(c) for c in self.counts)
        return {"X": sum(self.x_bytes(g, m, k) for g in gs for m in ms for k in ks),
                "W": sum(self.w_bytes(g, n, k) for g in gs for n in ns for k in ks),
                "Y": sum(self.y_bytes(g, m, n) for g in gs for m in ms for n in ns)}


def plan_tiles(layers: list[Layer], indices: dict[str, int], *, capacity_bytes: int, in_flight_tasks: int,
               bytes_per_element: int, spm_fraction: float, cores: int = 1,
               array: tuple[int, int, str | dict[str, str]] = (1, 1, "os"),
               override: tuple[int, int, int] | None = None, sparsity: Sparsity | None = None) -> dict[str, TileGrid]:
    """Tile grid for every layer; ConfigError if a layer's in-flight working set cannot fit the SPM.

    Tile shapes and the capacity check use dense bytes, so sparsity changes what moves, not the tiles.
    """
    usable = capacity_bytes
    if sparsity is not None:
        sparsity.check_layers(layer.name for layer in layers)
    grids: dict[str, TileGrid] = {}
    for layer in layers:
        gemm = layer.gemm
        if override is not None:
            m, n, k = override
            unit = gemm.k_unit
            shape = TileShape(1, min(m, gemm.M), min(n, gemm.N), min(gemm.K, max(unit, k // unit * unit)))
        else:
            chosen = choose_tile_shape(gemm, int(usable * spm_fraction) // in_flight_tasks, bytes_per_element,
                                       cores, array)
            if chosen is None:
                chosen = choose_tile_shape(gemm, usable // in_flight_tasks, bytes_per_element, cores, array)
            shape = chosen or TileShape(1, 1, 1, gemm.k_unit)
        need = task_working_set_elements(gemm, shape) * bytes_per_element * in_flight_tasks
        if need > usable:
            raise ConfigError(
                f"layer '{layer.name}': working set {need / 1024:.1f} KB ({in_flight_tasks} in-flight tile tasks "
                f"of tile {shape.tm}x{shape.tn}x{shape.tk}) exceeds SPM {capacity_bytes / 1024:.0f} KB",
                field="spm.capacity_kb" if override is None else "run.tile")
        grids[layer.name] = TileGrid.build(layer, indices[layer.name], shape, bytes_per_element, sparsity)
    return grids
