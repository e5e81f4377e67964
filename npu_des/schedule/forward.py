"""The forward (inference) pass as tile tasks: per layer Y[g,m,n] = sum_k X[g,m,k] . W[g,n,k].

Layers run in forward topological order; each layer's output tiles (g, m, n) are dealt to the
cores round-robin, in the loop order the tiler chose for the array's dataflow
(TileGrid.forward_order: K innermost for OS, so a partial sum stays resident while it accumulates;
the streamed axis innermost for WS / IS, so the stationary tile stays in the array). A layer's op
waits for its producers' forward ops (op deps), exactly as a backward op waits for its dY
producers. Feature maps cross DRAM at every layer boundary: Y is written back and the consumer reads
it as its own X tiles, except where fused (npu_des/schedule/fusion.py, which also builds the forward
schedule with fused groups) or pinned (`pinned`: producer -> consumer; the producer's Y stays in the
SPM, `write_back=False`, and the consumer's X tiles are those Y tiles, see
npu_des/schedule/pinning.py).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import networkx as nx

from npu_des.kinds import Op, OpId
from npu_des.schedule.tasks import Schedule, TaskList, TileRef, TileRefs
from npu_des.tiling import TileGrid
from npu_des.workload.layers import Layer


def forward_layer_order(forward: nx.DiGraph) -> list[Layer]:
    """Layers in topological order, ties by model index (the order the model lists them)."""
    order = nx.lexicographical_topological_sort(forward, key=lambda name: forward.nodes[name]["index"])
    return [forward.nodes[name]["layer"] for name in order]


def forward_op_deps(layers: list[Layer]) -> dict[OpId, tuple[OpId, ...]]:
    """A layer's forward op waits for the forward ops of the layers feeding it."""
    return {(layer.name, Op.Y): tuple(sorted((producer, Op.Y) for producer in layer.inputs))
            for layer in layers}


class _PinnedInputRefs(TileRefs):
    """A consumer whose X tiles are its pinned producer's Y tiles (same SPM keys, full-channel tiles)."""

    def __init__(self, grid: TileGrid, producer: TileRefs) -> None:
        super().__init__(grid)
        self.producer = producer

    def x(self, g: int, m: int, k: int) -> TileRef:
        return self.producer.y(g, m, k)


class LayerAdder:
    """Appends whole layers, keeping pinned producers' Y on chip and feeding it to their consumers."""

    def __init__(self, cores: int, pinned: dict[str, str] | None = None) -> None:
        self.cores = cores
        self.pinned = pinned or {}
        self._producer_of = {consumer: producer for producer, consumer in self.pinned.items()}
        self._refs: dict[str, TileRefs] = {}

    def add(self, tasks: TaskList, grid: TileGrid) -> None:
        name = grid.layer.name
        producer = self._producer_of.get(name)
        refs = _PinnedInputRefs(grid, self._refs[producer]) if producer else TileRefs(grid)
        if name in self.pinned:
            self._refs[name] = refs
        add_layer(tasks, grid, self.cores, refs, keep_output=name in self.pinned)


def add_layer(tasks: TaskList, grid: TileGrid, cores: int, refs: TileRefs | None = None,
              keep_output: bool = False) -> None:
    """Every tile task of one layer's forward GEMM in the grid's loop order (OS: K innermost, so a
    partial sum accumulates in the array; WS: M innermost, the weight tile stays; IS: N innermost),
    output tiles round-robin over the cores.

    `keep_output`: final Y tiles stay in the SPM (a pinned feature map), never written back.
    """
    refs = refs or TileRefs(grid)
    first = len(tasks.tasks)
    counts = dict(zip("gmnk", grid.counts, strict=True))
    order = "g" + grid.forward_order  # the tiler's loop order; the last axis is innermost
    position = {axis: order.index(axis) for axis in "gmnk"}
    m_count, n_count = counts["m"], counts["n"]
    for at in product(*(range(counts[axis]) for axis in order)):
        g, m, n, k = (at[position[axis]] for axis in "gmnk")
        tasks.add_forward(refs, g, m, n, k, ((g * m_count + m) * n_count + n) % cores)
    if keep_output:
        for index in range(first, len(tasks.tasks)):
            if tasks.tasks[index].last:
                tasks.tasks[index] = replace(tasks.tasks[index], write_back=False)


def forward_schedule(layers: list[Layer], grids: dict[str, TileGrid], cores: int,
                     pinned: dict[str, str] | None = None) -> Schedule:
    """Layer-by-layer forward schedule (no fusion); `pinned` feature maps (producer -> consumer) stay on
    chip."""
    tasks = TaskList()
    adder = LayerAdder(cores, pinned)
    for layer in layers:
        adder.add(tasks, grids[layer.name])
    return Schedule("forward", tuple(tasks.tasks), forward_op_deps(layers), grids)
