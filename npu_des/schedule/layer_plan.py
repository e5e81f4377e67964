"""Per layer, everything the backward orders need decided before tasks exist: partitions, tiles, access
orders, core mapping, loop orders (docs/orders.md).

Run-wide options give the defaults; `run.layer_choices` (what the driver resolves `auto`,
`rearranged-best` and the simulated choices to, or what a user sets) overrides them per layer. A
scheme forced for the whole run splits each layer into as many of the P partitions as its split axis
allows (so depthwise convs, N = 1, stay whole under dY-sharing); one set for a layer must fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from npu_des.config import LayerChoice
from npu_des.errors import ConfigError
from npu_des.kinds import SPLIT_AXIS, Access, CoreMapping, Op, Order, Scheme
from npu_des.schedule.algorithm1 import algorithm1
from npu_des.schedule.estimate import TileTotals, best_loop_order
from npu_des.schedule.orders import (
    TRADITIONAL_LOOPS,
    Region,
    Step,
    access_steps,
    deal,
    fused_steps,
    merge,
    sequential_steps,
)
from npu_des.schedule.partition import (
    core_groups,
    default_partitions,
    partition_gemm,
    split_region,
    split_units,
)
from npu_des.schedule.tuning import tune_loops, tune_sequential
from npu_des.tiling import SpmBudget, TileGrid, choose_tile_shape
from npu_des.tiling.grid import tiling_cost
from npu_des.workload.layers import Layer

if TYPE_CHECKING:
    from npu_des.config import HardwareConfig, RunOptions
    from npu_des.tiling.sparsity import Sparsity

ACCESS_ORDERS = (Order.INTERLEAVED, Order.REARRANGED, Order.REARRANGED_BEST)


@dataclass(frozen=True)
class LayerPlan:
    """One layer's decided schedule parameters; `steps()` turns them into dealt tile products."""

    layer: Layer
    grid: TileGrid
    order: Order
    scheme: Scheme
    regions: tuple[Region, ...]  # the data partitions (one: the whole grid)
    groups: tuple[tuple[int, ...], ...]  # the cores each partition runs on
    accesses: tuple[Access, ...]  # per partition, for the interleaving orders
    mapping: CoreMapping
    loops: dict[Op, str]  # sequential: each op's loop order
    loop_order: str  # fused: the nest
    baseline: str

    def steps(self, first: Op = Op.DX) -> list[tuple[Step, tuple[int, ...]]]:
        """Every tile product of the layer in issue order, with its core."""
        has_dx = self.layer.has_input_gradient
        streams: dict[tuple[int, ...], list[tuple[Step, tuple[int, ...]]]] = {}
        for index, region in enumerate(self.regions):
            if self.order == Order.SEQUENTIAL:
                steps = sequential_steps(region, has_dx, first, self.loops)
            elif self.order == Order.FUSED:
                steps = list(fused_steps(region, self.loop_order, has_dx))
            else:
                steps = access_steps(region, self.accesses[index], has_dx)
            group = self.groups[index]
            streams.setdefault(group, []).extend(deal(steps, self.mapping, group, region))
        return merge(list(streams.values()))

    def choices(self) -> dict[str, str]:
        """What the summary records per layer (besides the tile shape), all as text."""
        out: dict[str, str] = {}
        if self.order == Order.SEQUENTIAL:
            out.update(baseline=self.baseline, dX_loop=self.loops[Op.DX], dW_loop=self.loops[Op.DW])
        elif self.order == Order.FUSED:
            out["loop_order"] = self.loop_order
        else:
            out["access"] = "/".join(dict.fromkeys(self.accesses))
        out.update(partition=str(self.scheme), partitions=str(len(self.regions)),
                   core_mapping=str(self.mapping))
        return out


def plan_layers(layers: list[Layer], grids: dict[str, TileGrid], budget: SpmBudget, hw: HardwareConfig,
                options: RunOptions, sparsity: Sparsity | None = None,
                mappings: dict[str, str] | None = None) -> dict[str, LayerPlan]:
    """Every layer's plan; `mappings` (layer -> core mapping) overrides run.core_mapping per layer."""
    unknown = sorted(set(options.layer_choices) - set(grids))
    if unknown:
        raise ConfigError(f"unknown layer '{unknown[0]}'", field="run.layer_choices",
                          allowed="layers of the model")
    predicted = _predicted(layers, hw, options)
    return {layer.name: plan_layer(layer, grids[layer.name], budget, hw, options, sparsity,
                                   (mappings or {}).get(layer.name), predicted.get(layer.name))
            for layer in layers}


def _predicted(layers: list[Layer], hw: HardwareConfig, options: RunOptions) -> dict[str, Scheme]:
    """`partition: predict`: the KNN's scheme per layer not chosen by hand (npu_des/schedule/predictor.py)."""
    if options.partition != "predict":
        return {}
    from npu_des.schedule.predictor import predict_schemes

    unset = LayerChoice()
    todo = [layer for layer in layers if options.layer_choices.get(layer.name, unset).partition is None]
    return dict(zip((layer.name for layer in todo), predict_schemes([layer.gemm for layer in todo])))


def plan_layer(layer: Layer, grid: TileGrid, budget: SpmBudget, hw: HardwareConfig, options: RunOptions,
               sparsity: Sparsity | None = None, mapping: str | None = None,
               predicted: Scheme | None = None) -> LayerPlan:
    """One layer's plan (see the module docstring for how choices combine)."""
    cores, capacity = hw.cores.count, hw.spm.capacity_bytes
    choice = options.layer_choices.get(layer.name, LayerChoice())
    order = Order(options.order)
    scheme = choice.partition or predicted or _run_scheme(options.partition)
    count = choice.partitions or options.partitions or default_partitions(cores)
    if scheme == Scheme.NONE:
        count = 1
    explicit = choice.partition is not None and choice.partitions is not None
    units = split_units(layer.gemm, scheme) if scheme != Scheme.NONE else 1
    if explicit and count > units:
        raise _cannot_fit(layer, scheme, count, units)
    count = min(count, units)
    baseline = choice.baseline or options.baseline
    tuned = order == Order.SEQUENTIAL and baseline == "tuned"
    loops = dict(TRADITIONAL_LOOPS)
    if options.tile is None and (count > 1 or tuned):
        grid, tuned_loops = _retile(layer, grid, scheme, count, budget, hw, tuned, sparsity)
        loops.update(tuned_loops)
    elif tuned:
        loops = tune_loops(layer.gemm, grid.shape, TileTotals.of(grid), capacity, cores, hw.cores.array)
    if count > 1:
        tiles = len(getattr(grid, f"{SPLIT_AXIS[scheme]}_tiles"))
        if explicit and count > tiles:
            raise _cannot_fit(layer, scheme, count, tiles, "tiles")
        count = min(count, tiles)
    regions = split_region(Region.whole(grid), scheme, count)
    accesses: tuple[Access, ...] = ()
    if order == Order.INTERLEAVED:
        accesses = (Access.INTERLEAVING,) * len(regions)
    elif order in ACCESS_ORDERS:  # rearranged, and rearranged-best until the driver has chosen
        accesses = tuple(choice.access or algorithm1(*region.extents(grid)) for region in regions)
    resolved = choice.core_mapping or mapping or options.core_mapping
    loop_order = options.loop_order
    if order == Order.FUSED and loop_order == "auto":
        loop_order = best_loop_order(grid, capacity)
    return LayerPlan(
        layer, grid, order, scheme, regions,
        core_groups(len(regions), cores) if len(regions) > 1 else (tuple(range(cores)),),
        accesses, CoreMapping(resolved if resolved != "auto" else CoreMapping.OUTPUT), loops, loop_order,
        baseline,
    )


def _run_scheme(partition: str) -> Scheme:
    """The run-wide scheme; `auto` not yet resolved by simulation (or `predict` without a layer) is none."""
    return Scheme(partition) if partition in tuple(Scheme) else Scheme.NONE


def _retile(layer: Layer, grid: TileGrid, scheme: Scheme, count: int, budget: SpmBudget, hw: HardwareConfig,
            tuned: bool, sparsity: Sparsity | None) -> tuple[TileGrid, dict[Op, str]]:
    """The layer's grid with tiles chosen by the tiler for one partition's GEMM (its own modelled time,
    as plan_tiles scores a whole layer) and, tuned, for least traffic at no more modelled cycles."""
    gemm = partition_gemm(layer.gemm, scheme, count)
    cores = hw.cores.count if count == 1 else max(1, hw.cores.count // count)
    array, element = hw.cores.array, hw.bytes_per_element
    shape = grid.shape
    if count > 1:
        cost = tiling_cost(budget, array, hw.dram_bytes_per_cycle, forward=False)
        shape = (choose_tile_shape(gemm, budget.task_bytes, element, cores, cost=cost)
                 or choose_tile_shape(gemm, budget.task_limit_bytes, element, cores, cost=cost) or grid.shape)
    loops: dict[Op, str] = {}
    if tuned:
        budget_bytes = max(budget.task_bytes, grid.working_set_bytes())  # the tiler may have needed more
        tuning = tune_sequential(gemm, layer.has_input_gradient, shape, budget_bytes, element,
                                 hw.spm.capacity_bytes, cores, array)
        shape, loops = tuning.shape, tuning.loops
    if shape == grid.shape:
        return grid, loops
    return TileGrid.build(layer, grid.index, shape, element, sparsity), loops


def _cannot_fit(layer: Layer, scheme: Scheme, count: int, units: int, what: str = "") -> ConfigError:
    axis = SPLIT_AXIS[scheme]
    extent = f"{units} {what}" if what else f"{axis.upper()}={units}"
    return ConfigError(
        f"{scheme} cannot split layer '{layer.name}' ({extent} along {axis.upper()}) into {count} partitions",
        field="run.layer_choices", allowed=f"partitions from 1 to {units} for this layer",
    )
