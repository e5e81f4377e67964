"""The backward-pass orders, as pure functions from (layers in backward order, tile grids, cores) to tasks.

- sequential: per layer, every dX tile task, then every dW tile task (or dW first). Within an op
  the reduction loop is innermost, so an output tile stays in the SPM while it accumulates; the
  output tiles are dealt round-robin to the cores.
- interleaved (MICRO'23 technique 1): per layer, for each dY tile (g, m, n) in `loop_order`,
  its dW partial product and its dX partial product are issued back to back, so the dY tile is
  fetched once per visit instead of once per op. With at least as many K tiles as cores, K tiles
  are dealt to the cores (each core owns its dX[:, k] and dW[k, :] partial sums and all cores share
  the dY tile through the SPM); otherwise dY tiles are dealt round-robin.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

from npu_des.schedule.tasks import TaskList, TileRefs
from npu_des.tiling import TileGrid
from npu_des.workload.layers import Layer

INPUT_GRADIENT_LOOP = "mkn"   # dX[m,k] reduces over n: n innermost
WEIGHT_GRADIENT_LOOP = "knm"  # dW[k,n] reduces over m: m innermost


def tile_loop(grid: TileGrid, loop_order: str) -> Iterator[tuple[int, int, int, int]]:
    """(g, m, n, k) tile indices, groups outermost, then the three axes in `loop_order` (outer first)."""
    g_count, m_count, n_count, k_count = grid.counts
    extents = {"m": m_count, "n": n_count, "k": k_count}
    for g in range(g_count):
        for values in product(*(range(extents[axis]) for axis in loop_order)):
            index = dict(zip(loop_order, values))
            yield g, index["m"], index["n"], index["k"]


def sequential(layers: list[Layer], grids: dict[str, TileGrid], cores: int, first: str = "dX") -> TaskList:
    tasks = TaskList()
    for layer in layers:
        refs = TileRefs(grids[layer.name])
        ops = ("dX", "dW") if first == "dX" else ("dW", "dX")
        for op in ops:
            if op == "dX" and not layer.has_input_gradient:
                continue
            add = tasks.add_input_gradient if op == "dX" else tasks.add_weight_gradient
            loop = INPUT_GRADIENT_LOOP if op == "dX" else WEIGHT_GRADIENT_LOOP
            outputs: dict[tuple[int, int, int], int] = {}
            for g, m, n, k in tile_loop(refs.grid, loop):
                out = (g, m, k) if op == "dX" else (g, n, k)
                core = outputs.setdefault(out, len(outputs)) % cores
                add(refs, g, m, n, k, core)
    return tasks


def interleaved(layers: list[Layer], grids: dict[str, TileGrid], cores: int, loop_order: str = "mnk") -> TaskList:
    tasks = TaskList()
    for layer in layers:
        refs = TileRefs(grids[layer.name])
        dy_tiles: dict[tuple[int, int, int], int] = {}
        split_k = len(refs.grid.k_tiles) >= cores
        for g, m, n, k in tile_loop(refs.grid, loop_order):
            core = k % cores if split_k else dy_tiles.setdefault((g, m, n), len(dy_tiles)) % cores
            tasks.add_weight_gradient(refs, g, m, n, k, core)
            if layer.has_input_gradient:
                tasks.add_input_gradient(refs, g, m, n, k, core)
    return tasks
