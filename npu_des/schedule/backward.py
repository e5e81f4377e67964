"""The backward schedule: tile tasks of every layer in backward order and what each op or tile waits for."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import networkx as nx

from npu_des.config import RunOptions
from npu_des.kinds import GRADIENT_OPS, Op, OpId, TensorKind, TileKey
from npu_des.schedule.layer_plan import LayerPlan
from npu_des.schedule.tasks import FREE_DY_CODE, Schedule, TaskList, TileRef, TileRefs, TileTask
from npu_des.schedule.tile_deps import tile_dependencies
from npu_des.workload.graph import output_gradient_producers
from npu_des.workload.layers import Layer


def activation_gradients(tasks: TaskList, refs: TileRefs, cores: int) -> None:
    """The layer's vector op: one in-place elementwise task per dY tile, dealt round-robin."""
    g_count, m_count, n_count, _ = refs.grid.counts
    for index, (g, m, n) in enumerate(product(range(g_count), range(m_count), range(n_count))):
        tasks.add_activation_gradient(refs, g, m, n, index % cores)


def build_schedule(layers_backward: list[Layer], backward: nx.DiGraph, plans: dict[str, LayerPlan],
                   cores: int, options: RunOptions) -> Schedule:
    """Tile tasks of every layer in backward order (npu_des/schedule/layer_plan.py decides each layer's
    partitions, tiles and loops), and the dependencies on dY producers: per op, or with
    `dependencies: tile` per tile (TileTask.after) and none per op."""
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
    tasks = TaskList()
    for layer in layers_backward:
        plan = plans[layer.name]
        refs = TileRefs(plan.grid)
        if layer.name in vector_layers:
            activation_gradients(tasks, refs, cores)
        for step, step_cores in plan.steps(Op(options.sequential_first)):
            for (op, g, m, n, k), core in zip(step, step_cores):
                add = tasks.add_input_gradient if op == Op.DX else tasks.add_weight_gradient
                add(refs, g, m, n, k, core)
    grids = {name: plan.grid for name, plan in plans.items()}
    scheduled = tuple(tasks.tasks)
    if options.dependencies == "tile":
        scheduled = tile_dependencies(scheduled, layers_backward, grids)
        op_deps = dict.fromkeys(op_deps, ())
    if options.dw_dy == "free":
        scheduled = free_dy_for_weight_gradients(scheduled)
    choices = {name: plan.choices() for name, plan in plans.items()}
    return Schedule(options.order, scheduled, op_deps, grids, choices)


def free_dy_for_weight_gradients(tasks: tuple[TileTask, ...]) -> tuple[TileTask, ...]:
    """The MICRO'23 Fig. 6 ideal (`run.dw_dy: free`): each dW task reads its dY tile as a copy of its own
    (key kind FREE_DY_CODE), which the oracle DMA engine serves without DRAM traffic or time; dX tasks read
    dY as usual. The copy still takes SPM space, as dy_once's tiles do."""
    free: dict[TileKey, TileRef] = {}
    out = []
    for task in tasks:
        if task.op == Op.DW:
            x, dy = task.inputs
            copy = free.get(dy.key)
            if copy is None:
                copy = free[dy.key] = replace(dy, key=dy.key._replace(kind=FREE_DY_CODE))
            assert dy.kind == TensorKind.DY
            task = replace(task, inputs=(x, copy))
        out.append(task)
    return tuple(out)
