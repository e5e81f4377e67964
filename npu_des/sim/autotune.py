"""Per-layer choices made by simulating each layer alone: `rearranged-best` (the access order), `partition:
auto` (the data partitioning scheme, MICRO'23's exact choice), `core_mapping: auto`, and the tuned
sequential baseline's guard (`baseline: tuned` keeps a layer's tuned tiles and loops only where the layer
alone runs no slower with them than with the fixed baseline's: the estimate that picks them bounds
modelled compute, not time, and the baseline gets the same care as `rearranged-best`).

How a layer's gradients share the SPM, the DRAM channel and the cores depends on contention that a
closed form does not see, so each layer is simulated in isolation under every combination of the
choices left open and the fastest is kept (ties: the first candidate; for the access order that is
Algorithm 1's choice, for the mapping `output`). The isolated layer gets a one-element producer so its
dX op exists when the real layer has one. Layers with the same GEMM share one search. The result is
written into `run.layer_choices`, so the real run, its summary and the checker replay the choices.
The driver (npu_des/sim/driver.py) calls `resolve_choices` before planning the real run.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

from npu_des.config import HardwareConfig, LayerChoice, RunOptions
from npu_des.kinds import PARTITION_SCHEMES, Access, CoreMapping, Order
from npu_des.schedule.algorithm1 import algorithm1
from npu_des.schedule.orders import PARTITIONS
from npu_des.schedule.partition import default_partitions, partition_gemm
from npu_des.sim.engine import simulate_once
from npu_des.workload import Workload, linear
from npu_des.workload.layers import Layer

PRODUCER = "__producer__"
Candidate = tuple[Access | None, object, CoreMapping | None, str | None]

__all__ = ["PARTITIONS", "PRODUCER", "choose_partitions", "isolated", "layer_time", "resolve_choices"]


def isolated(layer: Layer) -> Workload:
    """A workload of just `layer` (plus a negligible producer if the layer has an input gradient)."""
    if not layer.has_input_gradient:
        return Workload(layer.name, (layer,))
    return Workload(layer.name, (linear(PRODUCER, (), 1, 1), replace(layer, inputs=(PRODUCER,))))


def layer_time(layer: Layer, hw: HardwareConfig, options: RunOptions,
               choice: LayerChoice | str | None = None) -> float:
    """Cycles until `layer` finishes when simulated alone with `choice` (a LayerChoice, or a core mapping)."""
    if isinstance(choice, str):
        choice = LayerChoice(core_mapping=CoreMapping(choice))
    update: dict[str, object] = {"layer_choices": {layer.name: choice} if choice else {}}
    if options.order == Order.REARRANGED_BEST:
        update["order"] = Order.REARRANGED  # the access order is the choice's
    result = simulate_once(isolated(layer), hw, options.model_copy(update=update), record_timeline=False)
    return next(row.end for row in result.layers if row.layer == layer.name)


def _candidates(layer: Layer, hw: HardwareConfig, options: RunOptions, fixed: LayerChoice) -> list[Candidate]:
    """Every combination of the choices this run leaves to simulation (one None-filled when none)."""
    accesses: list[Access | None] = [fixed.access]
    if options.order == Order.REARRANGED_BEST and fixed.access is None:
        cores = hw.cores.count
        scheme = fixed.partition or (PARTITION_SCHEMES[0] if options.partition == "auto" else None)
        gemm = layer.gemm if scheme is None else partition_gemm(
            layer.gemm, scheme, fixed.partitions or options.partitions or default_partitions(cores))
        first = algorithm1(gemm.M, gemm.N, gemm.K)
        accesses = [first, *(access for access in Access if access != first)]
    schemes: list[object] = [fixed.partition]
    if options.partition == "auto" and fixed.partition is None:
        schemes = list(PARTITION_SCHEMES)
    mappings: list[CoreMapping | None] = [fixed.core_mapping]
    if options.core_mapping == "auto" and fixed.core_mapping is None and hw.cores.count > 1:
        mappings = list(CoreMapping)
    baselines: list[str | None] = [fixed.baseline]
    if _guards_tuned(options) and fixed.baseline is None:
        baselines = ["tuned", "fixed"]  # a tie keeps the tuned tiles (never more estimated bytes)
    return list(product(accesses, schemes, mappings, baselines))


def _guards_tuned(options: RunOptions) -> bool:
    return options.order == Order.SEQUENTIAL and options.baseline == "tuned"


def resolve_choices(workload: Workload, hw: HardwareConfig, options: RunOptions) -> RunOptions:
    """`options` with every per-layer choice left to simulation filled into `layer_choices`."""
    searching = (options.order == Order.REARRANGED_BEST or options.partition == "auto"
                 or (options.core_mapping == "auto" and hw.cores.count > 1) or _guards_tuned(options))
    if not searching or options.pass_ == "forward":
        return options
    resolved = dict(options.layer_choices)
    memo: dict[tuple[object, ...], LayerChoice] = {}
    for layer in workload.layers:
        fixed = options.layer_choices.get(layer.name, LayerChoice())
        candidates = _candidates(layer, hw, options, fixed)
        key = (layer.gemm, layer.has_input_gradient, fixed, tuple(candidates))
        if key not in memo:
            choices = [
                fixed.model_copy(update={"access": access, "partition": scheme, "core_mapping": mapping,
                                         "baseline": baseline})
                for access, scheme, mapping, baseline in candidates
            ]
            times = [layer_time(layer, hw, options, choice) for choice in choices]
            memo[key] = choices[min(range(len(choices)), key=lambda index: (times[index], index))]
        resolved[layer.name] = memo[key]
    return options.model_copy(update={"layer_choices": resolved})


def choose_partitions(workload: Workload, hw: HardwareConfig, options: RunOptions) -> dict[str, str]:
    """Fastest core mapping per layer (the old `partition: auto`); empty on a single core."""
    if hw.cores.count < 2:
        return {}
    searched = resolve_choices(workload, hw, options.model_copy(update={"core_mapping": "auto"}))
    return {name: str(choice.core_mapping) for name, choice in searched.layer_choices.items()
            if choice.core_mapping is not None}
