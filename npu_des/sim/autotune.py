"""Per-layer choices made by simulating each layer alone (MICRO'23 technique 3: partition and mapping).

How two gradient computations share cores and the SPM depends on contention that a closed form
does not see, so `partition: auto` simulates each layer in isolation under every scheme and keeps
the fastest (ties keep the default, `output`). The isolated layer gets a one-element producer so
its dX op exists when the real layer has one. Runs go through the engine (`simulate_once`); the
driver (npu_des/sim/driver.py) calls this before planning the real run.
"""

from __future__ import annotations

from dataclasses import replace

from npu_des.config import HardwareConfig, RunOptions
from npu_des.schedule.orders import PARTITIONS
from npu_des.sim.engine import simulate_once
from npu_des.workload import Workload, linear
from npu_des.workload.layers import Layer

PRODUCER = "__producer__"


def isolated(layer: Layer) -> Workload:
    """A workload of just `layer` (plus a negligible producer if the layer has an input gradient)."""
    if not layer.has_input_gradient:
        return Workload(layer.name, (layer,))
    return Workload(layer.name, (linear(PRODUCER, (), 1, 1), replace(layer, inputs=(PRODUCER,))))


def layer_time(layer: Layer, hw: HardwareConfig, options: RunOptions, partition: str) -> float:
    """Cycles until `layer` finishes when simulated alone with every layer under `partition`."""
    result = simulate_once(isolated(layer), hw, options.model_copy(update={"partition": partition}),
                           record_timeline=False)
    return next(row.end for row in result.layers if row.layer == layer.name)


def choose_partitions(workload: Workload, hw: HardwareConfig, options: RunOptions) -> dict[str, str]:
    """Fastest partition scheme per layer; empty on a single core, where the schemes coincide."""
    if hw.cores.count < 2 or options.order != "interleaved":
        return {}
    choices = {}
    for layer in workload.layers:
        times = {scheme: layer_time(layer, hw, options, scheme) for scheme in PARTITIONS}
        choices[layer.name] = min(PARTITIONS, key=lambda scheme: (times[scheme], scheme != "output"))
    return choices
