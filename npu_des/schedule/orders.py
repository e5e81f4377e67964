"""The backward-pass orders, as pure functions from (layers in backward order, tile grids, cores) to tasks.

- sequential: per layer, every dX tile task, then every dW tile task (or dW first). Within an op
  the reduction loop is innermost, so an output tile stays in the SPM while it accumulates; the
  output tiles are dealt round-robin to the cores.
- interleaved (MICRO'23 technique 1): per layer, for each tile iteration (g, m, n, k) in the
  layer's loop order, the dW and dX partial products that share the dY tile are issued back to
  back, so the dY tile is fetched once per visit instead of once per op. The loop order per layer
  (technique 2) and the core partitioning per layer (technique 3) are inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

from npu_des.kinds import Op
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


def activation_gradients(tasks: TaskList, refs: TileRefs, cores: int) -> None:
    """The layer's vector op: one in-place elementwise task per dY tile, dealt round-robin."""
    g_count, m_count, n_count, _ = refs.grid.counts
    for index, (g, m, n) in enumerate(product(range(g_count), range(m_count), range(n_count))):
        tasks.add_activation_gradient(refs, g, m, n, index % cores)


def _layer_tiles(tasks: TaskList, layers: list[Layer], grids: dict[str, TileGrid], cores: int,
                 vector_layers: frozenset[str]) -> Iterator[tuple[Layer, TileRefs]]:
    """Each layer with its tile refs, after emitting its vector op (the non-GEMM backward runs first)."""
    for layer in layers:
        refs = TileRefs(grids[layer.name])
        if layer.name in vector_layers:
            activation_gradients(tasks, refs, cores)
        yield layer, refs


def sequential(layers: list[Layer], grids: dict[str, TileGrid], cores: int, first: str = Op.DX,
               vector_layers: frozenset[str] = frozenset()) -> TaskList:
    tasks = TaskList()
    for layer, refs in _layer_tiles(tasks, layers, grids, cores, vector_layers):
        ops = (Op.DX, Op.DW) if first == Op.DX else (Op.DW, Op.DX)
        for op in ops:
            if op == Op.DX and not layer.has_input_gradient:
                continue
            add = tasks.add_input_gradient if op == Op.DX else tasks.add_weight_gradient
            loop = INPUT_GRADIENT_LOOP if op == Op.DX else WEIGHT_GRADIENT_LOOP
            outputs: dict[tuple[int, int, int], int] = {}
            for g, m, n, k in tile_loop(refs.grid, loop):
                out = (g, m, k) if op == Op.DX else (g, n, k)
                core = outputs.setdefault(out, len(outputs)) % cores
                add(refs, g, m, n, k, core)
    return tasks


PARTITIONS = ("output", "m", "n", "op")


def interleaved_core(partition: str, cores: int, counts: tuple[int, int, int, int], op: str,
                     g: int, m: int, n: int, k: int, dy_tile: int, output_tile: int) -> int:
    """Which core runs one gradient's partial product of iteration (g, m, n, k) (MICRO'23 technique 3).

    output: each op's output tiles dealt round-robin (in order of first use); a partial sum stays on
            one core and the cores share each dY tile through the SPM (split each op's tiles).
    m / n:  dY partitioned along M / N; each core computes both gradients for its part of dY
            (the other gradient's partial sums then hop between cores).
    op:     dX on one half of the cores, dW on the other, consuming the same dY tiles via the SPM.
    A split with fewer tiles than cores falls back to dealing dY tiles round-robin.
    """
    _, m_tiles, n_tiles, _ = counts
    if partition == "output":
        return output_tile % cores
    if partition == "op" and cores >= 2:
        half = cores // 2
        return (output_tile % half) if op == Op.DW else half + (output_tile % (cores - half))
    extent = {"m": (m_tiles, m), "n": (n_tiles, n)}.get(partition)
    if extent is not None and extent[0] >= cores:
        return extent[1] % cores
    return dy_tile % cores


def interleaved(layers: list[Layer], grids: dict[str, TileGrid], cores: int,
                loop_orders: dict[str, str], partitions: dict[str, str],
                vector_layers: frozenset[str] = frozenset()) -> TaskList:
    tasks = TaskList()
    for layer, refs in _layer_tiles(tasks, layers, grids, cores, vector_layers):
        partition = partitions[layer.name]
        counts = refs.grid.counts
        dy_tiles: dict[tuple[int, int, int], int] = {}
        dx_tiles: dict[tuple[int, int, int], int] = {}
        dw_tiles: dict[tuple[int, int, int], int] = {}
        for g, m, n, k in tile_loop(refs.grid, loop_orders[layer.name]):
            dy_tile = dy_tiles.setdefault((g, m, n), len(dy_tiles))
            dw_tile = dw_tiles.setdefault((g, n, k), len(dw_tiles))
            core = interleaved_core(partition, cores, counts, Op.DW, g, m, n, k, dy_tile, dw_tile)
            tasks.add_weight_gradient(refs, g, m, n, k, core)
            if layer.has_input_gradient:
                dx_tile = dx_tiles.setdefault((g, m, k), len(dx_tiles))
                core = interleaved_core(partition, cores, counts, Op.DX, g, m, n, k, dy_tile, dx_tile)
                tasks.add_input_gradient(refs, g, m, n, k, core)
    return tasks
