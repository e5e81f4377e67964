"""`simulate()`: the one call that runs a workload on a hardware preset, whatever the options ask.

It resolves what needs simulations of its own before the real run, `partition: auto` (each layer
simulated alone under every scheme, npu_des/sim/autotune.py), then hands the partitions to the
engine (npu_des/sim/engine.py), which plans and runs.
"""

from __future__ import annotations

from npu_des.config import HardwareConfig, RunOptions
from npu_des.metrics import RunResult
from npu_des.sim.autotune import choose_partitions
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.engine import Progress, simulate_once
from npu_des.sim.scalesim_run import simulate_scalesim
from npu_des.workload import Workload


def simulate(workload: Workload, hw: HardwareConfig, options: RunOptions,
             partitions: dict[str, str] | None = None, dma_engine: type[DmaEngine] = DmaEngine,
             progress: Progress | None = None) -> RunResult:
    """Simulate the backward pass of `workload` on `hw` in the order `options.order` (or its forward pass).

    `partitions` (layer -> multi-core scheme) overrides `options.partition` for those layers;
    with `partition: auto` each layer's scheme is chosen by simulating it alone (autotune.py).
    `dma_engine` lets an oracle variant (e.g. npu_des.sweep.variants.DyOnceDmaEngine) replace the DMA model.
    `progress(done, total)` is called as tile tasks complete (about every 1%), for progress bars.
    """
    if options.memory_model == "scalesim":  # SCALE-Sim's operand-matrix accounting, op by op
        return simulate_scalesim(workload, hw, options)
    if options.partition == "auto" and partitions is None:
        partitions = choose_partitions(workload, hw, options)
    return simulate_once(workload, hw, options, partitions, dma_engine, progress)
