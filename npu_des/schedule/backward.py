"""The backward schedule: tile tasks of every layer in backward order and each op's dependencies."""

from __future__ import annotations

import networkx as nx

from npu_des.config import RunOptions
from npu_des.kinds import GRADIENT_OPS, Op, OpId
from npu_des.schedule.estimate import best_loop_order
from npu_des.schedule.orders import interleaved, sequential
from npu_des.schedule.tasks import Schedule
from npu_des.tiling import TileGrid
from npu_des.workload.graph import output_gradient_producers
from npu_des.workload.layers import Layer


def build_schedule(layers_backward: list[Layer], backward: nx.DiGraph, grids: dict[str, TileGrid],
                   cores: int, options: RunOptions, capacity_bytes: int,
                   partitions: dict[str, str] | None = None) -> Schedule:
    """Tile tasks of every layer in backward order, and each op's dependencies on dY producers.

    `loop_order: auto` picks each layer's interleaved loop order from the closed-form traffic
    estimate; `partitions` (layer -> scheme) overrides `options.partition` per layer.
    """
    op_deps: dict[OpId, tuple[OpId, ...]] = {op: tuple(output_gradient_producers(backward, op))
                                             for op in backward.nodes}
    vector_layers: frozenset[str] = frozenset()
    if options.vector_ops:  # layers whose dY comes from consumers get the non-GEMM backward first
        vector_layers = frozenset(layer.name for layer in layers_backward if op_deps[(layer.name, Op.DW)])
        for name in vector_layers:
            vector = (name, Op.VECTOR)
            op_deps[vector] = op_deps[(name, Op.DW)]
            for op in GRADIENT_OPS:
                if (name, op) in op_deps:
                    op_deps[(name, op)] = (vector,)
    choices: dict[str, dict[str, str]] = {}
    if options.order == "sequential":
        tasks = sequential(layers_backward, grids, cores, options.sequential_first, vector_layers)
    else:
        loop_orders = {name: best_loop_order(grid, capacity_bytes) if options.loop_order == "auto"
                       else options.loop_order for name, grid in grids.items()}
        default = options.partition if options.partition != "auto" else "output"
        chosen = {name: (partitions or {}).get(name, default) for name in grids}
        tasks = interleaved(layers_backward, grids, cores, loop_orders, chosen, vector_layers)
        choices = {name: {"loop_order": loop_orders[name], "partition": chosen[name]} for name in grids}
    return Schedule(options.order, tuple(tasks.tasks), op_deps, grids, choices)
