"""GEMM -> tiles that fit the SPM: every layer's tile grid and the DRAM bytes of each tile.

The tile index (g, m, n, k) names the dY tile (g, m, n), the X / dX tile (g, m, k), and the W / dW
tile (g, n, k). Both orders use the same tiles, so traffic differences between them come from the
order alone. Shapes must fit the task share of the SPM budget (npu_des.tiling.budget); if even the
hard limit (fraction 1) cannot hold, the run is impossible and we say so before simulating.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING

from npu_des.errors import ConfigError, warn
from npu_des.kinds import TensorKind, TileIndex
from npu_des.tiling.budget import SpmBudget
from npu_des.tiling.shapes import TileShape, choose_tile_shape, split, task_working_set_elements
from npu_des.tiling.sparsity import Sparsity, compressed_bytes
from npu_des.workload.layers import Layer

if TYPE_CHECKING:
    from npu_des.config import ArrayConfig


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
        return cls(
            layer,
            index,
            shape,
            bytes_per_element,
            split(gemm.groups, shape.tg),
            split(gemm.M, shape.tm),
            split(gemm.N, shape.tn),
            split(gemm.K, shape.tk),
            x_density,
            dy_density,
            sparsity.compression if sparsity else "none",
        )

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.g_tiles), len(self.m_tiles), len(self.n_tiles), len(self.k_tiles)

    def dx_bytes(self, g: int, m: int, k: int) -> int:
        """dX tiles (and dense X tiles): the input patch (halo included), not the im2col expansion."""
        m_start, m_size = self.m_tiles[m]
        return (
            self.g_tiles[g][1]
            * self.layer.gemm.x_tile_elements(m_start, m_size, self.k_tiles[k][1])
            * self.bytes_per_element
        )

    def x_bytes(self, g: int, m: int, k: int) -> int:
        """X tiles as moved: the dX-sized patch, compressed at `x_density` (rows = patch pixels or M rows)."""
        dense = self.dx_bytes(g, m, k)
        if self.compression == "none" or self.x_density >= 1.0:
            return dense
        gemm = self.layer.gemm
        elements = dense // self.bytes_per_element
        row_length = ceil(self.k_tiles[k][1] / gemm.k_unit)  # channels per patch pixel, or K per row
        return compressed_bytes(
            elements, elements // row_length, self.x_density, self.bytes_per_element, self.compression
        )

    def w_bytes(self, g: int, n: int, k: int) -> int:
        """W and dW tiles."""
        return self.g_tiles[g][1] * self.n_tiles[n][1] * self.k_tiles[k][1] * self.bytes_per_element

    def dy_bytes(self, g: int, m: int, n: int) -> int:
        """dY tiles, compressed at `dy_density` (rows of the tile are its M rows)."""
        rows = self.g_tiles[g][1] * self.m_tiles[m][1]
        return compressed_bytes(
            rows * self.n_tiles[n][1], rows, self.dy_density, self.bytes_per_element, self.compression
        )

    def y_bytes(self, g: int, m: int, n: int) -> int:
        """Forward output tiles (dense)."""
        return self.g_tiles[g][1] * self.m_tiles[m][1] * self.n_tiles[n][1] * self.bytes_per_element

    def gemm_extents(self, g: int, m: int, n: int, k: int) -> TileIndex:
        """(groups, M, N, K) extents of tile (g, m, n, k), for the compute-cycle formula."""
        return TileIndex(self.g_tiles[g][1], self.m_tiles[m][1], self.n_tiles[n][1], self.k_tiles[k][1])

    def working_set_bytes(self) -> int:
        """Bytes one tile task of this layer holds in the SPM at most (dense)."""
        return task_working_set_elements(self.layer.gemm, self.shape) * self.bytes_per_element

    def compulsory_bytes(self) -> dict[TensorKind, int]:
        """Each distinct tile of each tensor moved once: the floor any order can reach."""
        gs, ms, ns, ks = (range(c) for c in self.counts)
        x = sum(self.x_bytes(g, m, k) for g in gs for m in ms for k in ks)
        w = sum(self.w_bytes(g, n, k) for g in gs for n in ns for k in ks)
        dy = sum(self.dy_bytes(g, m, n) for g in gs for m in ms for n in ns)
        dx = (
            sum(self.dx_bytes(g, m, k) for g in gs for m in ms for k in ks)
            if self.layer.has_input_gradient
            else 0
        )
        return {
            TensorKind.X: x,
            TensorKind.W: w if self.layer.has_input_gradient else 0,
            TensorKind.DY: dy,
            TensorKind.DX: dx,
            TensorKind.DW: w,
        }

    def forward_compulsory_bytes(self) -> dict[TensorKind, int]:
        """Forward pass floor: X, W and Y tiles each moved once (Y written, X and W read)."""
        gs, ms, ns, ks = (range(c) for c in self.counts)
        return {
            TensorKind.X: sum(self.x_bytes(g, m, k) for g in gs for m in ms for k in ks),
            TensorKind.W: sum(self.w_bytes(g, n, k) for g in gs for n in ns for k in ks),
            TensorKind.Y: sum(self.y_bytes(g, m, n) for g in gs for m in ms for n in ns),
        }


def largest_working_set_bytes(grids: Iterable[TileGrid]) -> int:
    """The largest tile-task working set over the grids (0 for none), for the in-flight share of the SPM."""
    return max((grid.working_set_bytes() for grid in grids), default=0)


def plan_tiles(
    layers: list[Layer],
    indices: dict[str, int],
    budget: SpmBudget,
    *,
    cores: int = 1,
    array: ArrayConfig | None = None,
    override: tuple[int, int, int] | None = None,
    sparsity: Sparsity | None = None,
) -> dict[str, TileGrid]:
    """Tile grid for every layer; ConfigError if a layer's in-flight working set cannot fit the SPM.

    Tile shapes and the capacity check use dense bytes, so sparsity changes what moves, not the tiles.
    """
    capacity_bytes, in_flight_tasks = budget.capacity_bytes, budget.in_flight_tasks
    bytes_per_element = budget.bytes_per_element
    if sparsity is not None:
        sparsity.check_layers(layer.name for layer in layers)
    grids: dict[str, TileGrid] = {}
    whole_spm: list[tuple[str, float]] = []  # layers no shape fit run.spm_fraction for, smallest fraction
    for layer in layers:
        gemm = layer.gemm
        if override is not None:
            m, n, k = override
            unit = gemm.k_unit
            shape = TileShape(1, min(m, gemm.M), min(n, gemm.N), min(gemm.K, max(unit, k // unit * unit)))
        else:
            chosen = choose_tile_shape(gemm, budget.task_bytes, bytes_per_element, cores, array)
            if chosen is None:
                smallest = task_working_set_elements(gemm, TileShape(1, 1, 1, gemm.k_unit))
                need = smallest * bytes_per_element * in_flight_tasks
                whole_spm.append((layer.name, need / max(capacity_bytes, 1)))
                chosen = choose_tile_shape(gemm, budget.task_limit_bytes, bytes_per_element, cores, array)
            shape = chosen or TileShape(1, 1, 1, gemm.k_unit)
        need = task_working_set_elements(gemm, shape) * bytes_per_element * in_flight_tasks
        if need > capacity_bytes:
            raise ConfigError(
                f"layer '{layer.name}': working set {need / 1024:.1f} KB "
                f"({in_flight_tasks} in-flight tile tasks "
                f"of tile {shape.tm}x{shape.tn}x{shape.tk}) exceeds SPM {capacity_bytes / 1024:.0f} KB",
                field="spm.capacity_kb" if override is None else "run.tile",
            )
        grids[layer.name] = TileGrid.build(layer, indices[layer.name], shape, bytes_per_element, sparsity)
    if whole_spm:
        _warn_spm_fraction(budget, whole_spm)
    return grids


def _warn_spm_fraction(budget: SpmBudget, layers: list[tuple[str, float]]) -> None:
    """run.spm_fraction too small for some layer's smallest tile: those layers were tiled against the whole
    SPM instead (their plan still fits, checked above). Said once, with the smallest fraction that fits."""
    needed = max(fraction for _, fraction in layers)
    names = ", ".join(name for name, _ in layers[:3]) + (", ..." if len(layers) > 3 else "")
    warn(f"run.spm_fraction={budget.spm_fraction:g} leaves each of the {budget.in_flight_tasks} in-flight "
         f"tile tasks {budget.task_bytes} bytes, too little for the smallest tile of {len(layers)} layer(s) "
         f"({names}); those layers were tiled against the whole SPM (smallest fraction that fits them: "
         f"{ceil(needed * 1000) / 1000:g})")
