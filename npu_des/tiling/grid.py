"""GEMM -> tiles that fit the SPM: every layer's tile grid and the DRAM bytes of each tile.

The tile index (g, m, n, k) names the dY tile (g, m, n), the X / dX tile (g, m, k), and the W / dW
tile (g, n, k). Both orders use the same tiles, so traffic differences between them come from the
order alone. Shapes must fit the task share of the SPM budget (npu_des.tiling.budget); if even the
hard limit (fraction 1) cannot hold, the run is impossible and we say so before simulating.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil, sqrt
from typing import TYPE_CHECKING

from npu_des.errors import ConfigError, warn
from npu_des.kinds import TensorKind, TileIndex
from npu_des.tiling.budget import SpmBudget
from npu_des.tiling.shapes import (
    FORWARD_ORDERS,
    TileShape,
    TilingCost,
    choose_tile_shape,
    split,
    task_working_set_elements,
)
from npu_des.tiling.sparsity import Sparsity, compressed_bytes
from npu_des.workload.layers import Layer

_new_tuple = tuple.__new__  # NamedTuple(...) without its Python-level __new__

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
    forward_order: str = "mnk"  # forward loop over (M, N, K) tiles, innermost last (FORWARD_ORDERS)

    @classmethod
    def build(cls, layer: Layer, index: int, shape: TileShape, bytes_per_element: int,
              sparsity: Sparsity | None = None, forward_order: str = "mnk") -> TileGrid:
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
            forward_order,
        )

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.g_tiles), len(self.m_tiles), len(self.n_tiles), len(self.k_tiles)

    def channels(self, k: int) -> int:
        """Input channels K tile k touches (a fold-aligned tile may split one with its neighbour)."""
        start, size = self.k_tiles[k]
        unit = self.layer.gemm.k_unit
        return ceil((start + size) / unit) - start // unit

    def dx_bytes(self, g: int, m: int, k: int) -> int:
        """dX tiles (and dense X tiles): the input patch (halo included), not the im2col expansion; a
        channel split between two K tiles is read (written) by both, as M tiles share halo rows."""
        m_start, m_size = self.m_tiles[m]
        gemm = self.layer.gemm
        if gemm.conv is None:
            elements = m_size * self.k_tiles[k][1]
        else:
            elements = self.channels(k) * gemm.conv.patch_pixels(m_start, m_size)
        return self.g_tiles[g][1] * elements * self.bytes_per_element

    def x_bytes(self, g: int, m: int, k: int) -> int:
        """X tiles as moved: the dX-sized patch, compressed at `x_density` (rows = patch pixels or M rows)."""
        dense = self.dx_bytes(g, m, k)
        if self.compression == "none" or self.x_density >= 1.0:
            return dense
        gemm = self.layer.gemm
        elements = dense // self.bytes_per_element
        row_length = self.channels(k) if gemm.conv else self.k_tiles[k][1]  # per patch pixel, or K per row
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
        return _new_tuple(TileIndex, (self.g_tiles[g][1], self.m_tiles[m][1], self.n_tiles[n][1],
                                      self.k_tiles[k][1]))

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


# Measured on the reference machine (2 cores, `npu-des bench --matrix`, planning included): every zoo
# model x preset with over 2,000 tile tasks ran at 15 k-20 k tasks per CPU second (small runs are
# dominated by start-up). The estimate takes 10 k so it never promises a run shorter than it is.
# (Re-measure after engine changes: the rate is the simulator's, not the plan's.)
SIMULATED_TASKS_PER_SECOND = 10_000


def layer_tasks(layer: Layer, shape: TileShape, forward: bool) -> int:
    """Tile tasks of one layer's op(s) under `shape`, counted without building the grid."""
    gemm = layer.gemm
    tiles = ceil(gemm.groups / shape.tg) * ceil(gemm.M / shape.tm) * ceil(gemm.N / shape.tn) * ceil(
        gemm.K / shape.tk)
    return tiles if forward or not layer.has_input_gradient else 2 * tiles


def minimum_layer_tasks(layer: Layer, budget_bytes: int, bytes_per_element: int, forward: bool) -> int:
    """A lower bound on the tile tasks of a layer, in microseconds, before any tile search.

    A tile of tm x tn x tk holds X >= tm * tk / u elements (u = k_unit: an X patch has at least one
    pixel per output row, and tk / u channels), tm * tn of Y and tk * tn of W; with a + b + c <= E
    elements, tm * tn * tk = sqrt(u * a * b * c) <= sqrt(u) * (E / 3) ** 1.5 MACs per tile.
    """
    gemm = layer.gemm
    elements = max(budget_bytes // bytes_per_element, 3)
    per_tile = sqrt(gemm.k_unit) * (elements / 3) ** 1.5
    tiles = max(1, ceil(gemm.macs / per_tile)) if gemm.macs else 1
    return tiles if forward or not layer.has_input_gradient else 2 * tiles


def wall_estimate(tasks: int) -> str:
    """'about 8.8 min of simulation at 10,000 tasks/s': the refusal's and the long-run notice's words."""
    seconds = tasks / SIMULATED_TASKS_PER_SECOND
    wall = f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"
    return f"about {wall} of simulation at {SIMULATED_TASKS_PER_SECOND:,} tasks/s"


def refuse_task_count(total: int, max_tasks: int, capacity_bytes: int, what: str,
                      at_least: bool) -> ConfigError:
    """The one-line refusal of a plan with more than `run.max_tasks` tile tasks, with a wall-time estimate."""
    return ConfigError(
        f"SPM {capacity_bytes / 1024:.0f} KB gives {'at least ' if at_least else ''}{total:,} tile tasks "
        f"({what}), {wall_estimate(total)}, "
        f"more than run.max_tasks={max_tasks:,}; use a larger spm.capacity_kb or raise run.max_tasks",
        field="spm.capacity_kb",
    )


def tiling_cost(budget: SpmBudget, array: ArrayConfig | None, bytes_per_cycle: float,
                forward: bool) -> TilingCost:
    """What the tiler scores a layer's (or one data partition's) shapes by: the array, DRAM at
    `bytes_per_cycle`, the pass's op(s), and the SPM beside the in-flight tiles as cache."""
    return TilingCost.of(array, bytes_per_cycle, forward, budget.capacity_bytes - budget.tiles_bytes)


def plan_tiles(
    layers: list[Layer],
    indices: dict[str, int],
    budget: SpmBudget,
    *,
    cores: int = 1,
    array: ArrayConfig | None = None,
    override: tuple[int, int, int] | None = None,
    sparsity: Sparsity | None = None,
    forward: bool = False,
    bytes_per_cycle: float = 0.0,
    max_tasks: int | None = None,
) -> dict[str, TileGrid]:
    """Tile grid for every layer; ConfigError if a layer's in-flight working set cannot fit the SPM, or
    if the plan would need more than `max_tasks` tile tasks (decided before searching tile shapes
    when a lower bound already exceeds it, and before building any grid otherwise).

    Tile shapes are scored for the pass's op(s) (`forward`: Y; else dX and dW) by modelled time with
    DRAM at `bytes_per_cycle` (npu_des.tiling.shapes). Tile shapes and the capacity check use dense
    bytes, so sparsity changes what moves, not the tiles.
    """
    capacity_bytes, in_flight_tasks = budget.capacity_bytes, budget.in_flight_tasks
    bytes_per_element = budget.bytes_per_element
    if sparsity is not None:
        sparsity.check_layers(layer.name for layer in layers)
    whole_spm: list[tuple[str, float]] = []  # layers no shape fit run.spm_fraction for, smallest fraction
    smallest_fits = all(
        task_working_set_elements(layer.gemm, TileShape(1, 1, 1, layer.gemm.k_unit)) * bytes_per_element
        * in_flight_tasks <= capacity_bytes for layer in layers)
    if max_tasks is not None and override is None and smallest_fits:  # else the fit check says it
        bound = sum(minimum_layer_tasks(layer, budget.task_limit_bytes, bytes_per_element, forward)
                    for layer in layers)
        if bound > max_tasks:
            raise refuse_task_count(bound, max_tasks, capacity_bytes, "a lower bound from the SPM share "
                                    "of a tile task", at_least=True)
    cost = tiling_cost(budget, array, bytes_per_cycle, forward)
    shapes: dict[str, TileShape] = {}
    for layer in layers:
        gemm = layer.gemm
        if override is not None:
            m, n, k = override
            unit = gemm.k_unit
            shape = TileShape(1, min(m, gemm.M), min(n, gemm.N), min(gemm.K, max(unit, k // unit * unit)))
        else:
            chosen = choose_tile_shape(gemm, budget.task_bytes, bytes_per_element, cores, cost=cost)
            if chosen is None:
                smallest = task_working_set_elements(gemm, TileShape(1, 1, 1, gemm.k_unit))
                need = smallest * bytes_per_element * in_flight_tasks
                whole_spm.append((layer.name, need / max(capacity_bytes, 1)))
                chosen = choose_tile_shape(gemm, budget.task_limit_bytes, bytes_per_element, cores, cost=cost)
            shape = chosen or TileShape(1, 1, 1, gemm.k_unit)
        need = task_working_set_elements(gemm, shape) * bytes_per_element * in_flight_tasks
        if need > capacity_bytes:
            raise ConfigError(
                f"layer '{layer.name}': working set {need / 1024:.1f} KB "
                f"({in_flight_tasks} in-flight tile tasks "
                f"of tile {shape.tm}x{shape.tn}x{shape.tk}) exceeds SPM {capacity_bytes / 1024:.0f} KB",
                field="spm.capacity_kb" if override is None else "run.tile",
            )
        shapes[layer.name] = shape
    if max_tasks is not None:
        total = sum(layer_tasks(layer, shapes[layer.name], forward) for layer in layers)
        if total > max_tasks:
            worst = max(layers, key=lambda layer: layer_tasks(layer, shapes[layer.name], forward))
            shape = shapes[worst.name]
            what = f"tiles as small as {shape.tm}x{shape.tn}x{shape.tk} in layer '{worst.name}'"
            raise refuse_task_count(total, max_tasks, capacity_bytes, what, at_least=False)
    if whole_spm:
        _warn_spm_fraction(budget, whole_spm)
    order = FORWARD_ORDERS[cost.dataflows[0]] if forward else "mnk"
    return {layer.name: TileGrid.build(layer, indices[layer.name], shapes[layer.name], bytes_per_element,
                                       sparsity, order) for layer in layers}


def _warn_spm_fraction(budget: SpmBudget, layers: list[tuple[str, float]]) -> None:
    """run.spm_fraction too small for some layer's smallest tile: those layers were tiled against the whole
    SPM instead (their plan still fits, checked above). Said once, with the smallest fraction that fits."""
    needed = max(fraction for _, fraction in layers)
    names = ", ".join(name for name, _ in layers[:3]) + (", ..." if len(layers) > 3 else "")
    warn(f"run.spm_fraction={budget.spm_fraction:g} leaves each of the {budget.in_flight_tasks} in-flight "
         f"tile tasks {budget.task_bytes} bytes, too little for the smallest tile of {len(layers)} layer(s) "
         f"({names}); those layers were tiled against the whole SPM (smallest fraction that fits them: "
         f"{ceil(needed * 1000) / 1000:g})")
