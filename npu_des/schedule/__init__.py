"""Schedules: backward graph + tile grids -> tile tasks in issue order (no SimPy here)."""

from __future__ import annotations

import networkx as nx

from npu_des.config import RunOptions
from npu_des.schedule.orders import interleaved, sequential
from npu_des.schedule.tasks import OpId, Schedule, TileRef, TileTask
from npu_des.tiling import TileGrid
from npu_des.workload.graph import output_gradient_producers
from npu_des.workload.layers import Layer

__all__ = ["Schedule", "TileRef", "TileTask", "build_schedule"]


def build_schedule(layers_backward: list[Layer], backward: nx.DiGraph, grids: dict[str, TileGrid],
                   cores: int, options: RunOptions) -> Schedule:
    """Tile tasks of every layer in backward order, and each op's dependencies on dY producers."""
    if options.order == "sequential":
        tasks = sequential(layers_backward, grids, cores, options.sequential_first)
    else:
        tasks = interleaved(layers_backward, grids, cores, options.loop_order)
    op_deps: dict[OpId, tuple[OpId, ...]] = {op: tuple(output_gradient_producers(backward, op))
                                             for op in backward.nodes}
    return Schedule(options.order, tuple(tasks.tasks), op_deps, grids)
