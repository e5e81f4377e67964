"""A run's plan: graph -> tiles -> schedule -> pins, with every capacity check done before any simulation.

`plan` is what the simulator executes and what the invariant checker re-derives independently; it
computes the SPM budget once (npu_des.tiling.budget) and hands it to tiling, fusion and the pin planner.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from npu_des.config import HardwareConfig, RunOptions
from npu_des.errors import ConfigError
from npu_des.kinds import KIND_CODES, KIND_OF_CODE, KINDS, TensorKind
from npu_des.schedule.backward import build_schedule
from npu_des.schedule.forward import forward_layer_order
from npu_des.schedule.layer_plan import plan_layers
from npu_des.schedule.pinning import (
    backward_candidates,
    disjoint_pin_deps,
    estimated_dy_reads,
    mark_pins,
    plan_forward_pins,
)
from npu_des.schedule.planner import PinCandidate, check_pins_fit, plan_pins
from npu_des.schedule.tasks import Schedule
from npu_des.tiling import SpmBudget, TileGrid, largest_working_set_bytes, plan_tiles
from npu_des.tiling.grid import layer_tasks, refuse_task_count
from npu_des.tiling.sparsity import Sparsity
from npu_des.workload import Workload, backward_graph, backward_layer_order, forward_graph

PinnedBytes = dict[tuple[int, int], int]  # (layer index, kind code) -> pinned bytes


def plan(workload: Workload, hw: HardwareConfig, options: RunOptions,
         partitions: dict[str, str] | None = None,
         dy_reads: dict[str, int] | None = None) -> tuple[Schedule, PinnedBytes]:
    """Graph -> tiles -> schedule, with every capacity check done before any simulation.

    A plan that cannot fit names the hardware and model it failed on. `partitions` (layer -> core
    mapping) overrides `run.core_mapping` per layer. `dy_reads` (layer -> dY bytes
    read by an unpinned run) lets the backward pin planner weigh each dY pin by what it saves.
    """
    try:
        with _cyclic_gc_paused():
            return _plan(workload, hw, options, partitions, dy_reads)
    except ConfigError as error:
        raise error.with_source(f"model '{workload.name}' on hardware '{hw.name}'") from None


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Planning allocates one long-lived TileTask (and tuples) per tile product, 10^4-10^6 of them, and
    no garbage cycles to speak of: the cyclic collector's passes over them were half of planning's CPU
    time (Faster R-CNN / edge_dual: 0.67 s -> 0.31 s without them). Reference counting still frees
    everything; collection resumes, as it was, afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(workload: Workload, hw: HardwareConfig, options: RunOptions, partitions: dict[str, str] | None,
          dy_reads: dict[str, int] | None) -> tuple[Schedule, PinnedBytes]:
    forward = forward_graph(workload)
    backward = backward_graph(forward)
    forward_pass = options.pass_ == "forward"
    layers = forward_layer_order(forward) if forward_pass else backward_layer_order(forward)
    indices = {layer.name: index for index, layer in enumerate(workload.layers)}
    budget = SpmBudget.of(hw, options)
    override = (options.tile.m, options.tile.n, options.tile.k) if options.tile else None
    sparsity = Sparsity.from_options(options)
    grids = plan_tiles(layers, indices, budget, cores=hw.cores.count, array=hw.cores.array, override=override,
                       sparsity=sparsity, forward=forward_pass, bytes_per_cycle=hw.dram_bytes_per_cycle,
                       max_tasks=options.max_tasks)
    if options.pins and options.pin_plan != "none":
        raise ConfigError("give either run.pins or run.pin_plan, not both", field="run.pin_plan")

    def check_count(planned: dict[str, TileGrid]) -> None:
        check_task_count(planned, options.max_tasks, hw.spm.capacity_bytes, forward_pass)

    if forward_pass:
        return plan_forward_pins(layers, grids, hw.cores.count, budget, options, check_count)
    layer_plans = plan_layers(layers, grids, budget, hw, options, sparsity, partitions)
    grids = {name: layer_plan.grid for name, layer_plan in layer_plans.items()}
    check_count(grids)
    pin_budget = budget.backward_pin_bytes(largest_working_set_bytes(grids.values()))
    pins = resolve_pins(options.pins, grids, {layer.name: q for q, layer in enumerate(layers)})
    if options.pin_plan != "none":
        reads = dy_reads if dy_reads is not None else estimated_dy_reads(grids, options.order)
        chosen = plan_pins(options.pin_plan, backward_candidates(layers, grids, reads), pin_budget)
        by_name = {f"{grid.layer.name}:{TensorKind.DY}": grid.index for grid in grids.values()}
        pins = {(by_name[pin.tensor], KIND_CODES[TensorKind.DY]): pin for pin in chosen}
    check_pins_fit(list(pins.values()), pin_budget,
                   "run.pin_plan" if options.pin_plan != "none" else "run.pins")
    schedule = build_schedule(layers, backward, layer_plans, hw.cores.count, options)
    names = {grid.index: name for name, grid in grids.items()}
    ops = {name: tuple(op for op in schedule.op_deps if op[0] == name) for name in grids}
    schedule = disjoint_pin_deps(
        schedule,
        [(ops[names[index]], ops[names[index]], pin.start, pin.end) for (index, _), pin in pins.items()],
    )
    return mark_pins(schedule, {names[index]: KIND_OF_CODE[code] for index, code in pins}), {
        key: pin.nbytes for key, pin in pins.items()
    }


def check_task_count(grids: dict[str, TileGrid], max_tasks: int, capacity_bytes: int,
                     forward: bool = False) -> None:
    """Refuse plans whose tiles are so small that the run would effectively never finish."""
    tasks = {name: layer_tasks(grid.layer, grid.shape, forward) for name, grid in grids.items()}
    total = sum(tasks.values())
    if total > max_tasks:
        worst = grids[max(tasks, key=tasks.__getitem__)]
        shape = worst.shape
        smallest = f"tiles as small as {shape.tm}x{shape.tn}x{shape.tk} in layer '{worst.layer.name}'"
        raise refuse_task_count(total, max_tasks, capacity_bytes, smallest, at_least=False)


def resolve_pins(
    specs: tuple[str, ...], grids: dict[str, TileGrid], positions: dict[str, int]
) -> dict[tuple[int, int], PinCandidate]:
    """Backward `LAYER:KIND` pin specs -> {(layer index, kind code): pin alive over [q, q+1] of backward
    order}.

    A layer's pins last until all its ops finish, which may be after the next layer has started,
    so the pins of consecutive layers share the SPM and are checked together.
    """
    pins: dict[tuple[int, int], PinCandidate] = {}
    for spec in specs:
        layer, colon, kind = spec.rpartition(":")
        if not colon:
            raise ConfigError(
                f"pin '{spec}' names no tensor kind", field="run.pins", allowed="LAYER:KIND, e.g. conv1:dY"
            )
        if layer not in grids:
            raise ConfigError(
                f"pin '{spec}' names unknown layer '{layer}'",
                field="run.pins",
                allowed="LAYER:KIND with a layer of the model",
            )
        if kind not in KINDS:
            raise ConfigError(
                f"pin '{spec}' names unknown tensor kind '{kind}'",
                field="run.pins",
                allowed=", ".join(KINDS) + " (Y on forward runs)",
            )
        grid = grids[layer]
        nbytes = grid.compulsory_bytes()[TensorKind(kind)]
        pins[(grid.index, KIND_CODES[TensorKind(kind)])] = PinCandidate(
            spec, nbytes, 0, positions[layer], positions[layer] + 1
        )
    return pins
