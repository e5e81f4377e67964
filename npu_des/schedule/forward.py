"""The forward (inference) pass as tile tasks: per layer Y[g,m,n] = sum_k X[g,m,k] . W[g,n,k].

Layers run in forward topological order; each layer's output tiles (g, m, n) are dealt to the
cores round-robin, with the reduction over K innermost so a partial sum stays resident while it
accumulates. A layer's op waits for its producers' forward ops (op deps), exactly as a backward op
waits for its dY producers. Feature maps cross DRAM at every layer boundary: Y is written back
and the consumer reads it as its own X tiles (pinning and fusion, which avoid that, are in
npu_des/schedule/fusion.py).
"""

from __future__ import annotations

import networkx as nx

from npu_des.config import RunOptions
from npu_des.schedule.tasks import OpId, Schedule, TaskList, TileRefs
from npu_des.tiling import TileGrid
from npu_des.workload.layers import Layer

FORWARD_OP = "Y"
FORWARD_LOOP = "mnk"  # Y[m,n] reduces over k: k innermost


def forward_layer_order(forward: nx.DiGraph) -> list[Layer]:
    """Layers in topological order, ties by model index (the order the model lists them)."""
    order = nx.lexicographical_topological_sort(forward, key=lambda name: forward.nodes[name]["index"])
    return [forward.nodes[name]["layer"] for name in order]


def forward_op_deps(layers: list[Layer]) -> dict[OpId, tuple[OpId, ...]]:
    """A layer's forward op waits for the forward ops of the layers feeding it."""
    return {(layer.name, FORWARD_OP): tuple(sorted((producer, FORWARD_OP) for producer in layer.inputs))
            for layer in layers}


def add_layer(tasks: TaskList, grid: TileGrid, cores: int) -> None:
    """Every tile task of one layer's forward GEMM, output tiles round-robin over the cores."""
    refs = TileRefs(grid)
    g_count, m_count, n_count, k_count = grid.counts
    output = 0
    for g in range(g_count):
        for m in range(m_count):
            for n in range(n_count):
                for k in range(k_count):
                    tasks.add_forward(refs, g, m, n, k, output % cores)
                output += 1


def forward_schedule(layers: list[Layer], grids: dict[str, TileGrid], cores: int) -> Schedule:
    """Layer-by-layer forward schedule (no pinning, no fusion)."""
    tasks = TaskList()
    for layer in layers:
        add_layer(tasks, grids[layer.name], cores)
    return Schedule("forward", tuple(tasks.tasks), forward_op_deps(layers), grids)


def build_forward_schedule(layers: list[Layer], grids: dict[str, TileGrid], cores: int, options: RunOptions,
                           capacity_bytes: int) -> Schedule:
    """The forward schedule `options` asks for: layer by layer, or with fused groups (`run.fuse`)."""
    if not options.fuse:
        return forward_schedule(layers, grids, cores)
    from npu_des.schedule.fusion import auto_groups, fused_schedule, named_groups

    in_flight = cores * (options.prefetch_depth + 1)
    bytes_per_element = next(iter(grids.values())).bytes_per_element if grids else 2
    budget = int(capacity_bytes * options.spm_fraction)
    groups = (auto_groups(layers, budget, in_flight, bytes_per_element) if options.fuse == ("auto",)
              else named_groups(layers, options.fuse))
    schedule, _ = fused_schedule(layers, grids, cores, groups, capacity_bytes, in_flight, options.spm_fraction,
                                 bytes_per_element)
    return schedule
