"""`simulate()`: the one call that runs a workload on a hardware preset, whatever the options ask.

It resolves what needs simulations of its own before the real run (`rearranged-best`, `partition:
auto`, `core_mapping: auto`: each layer simulated alone, npu_des/sim/autotune.py) into
`run.layer_choices`, then hands the options to the engine (npu_des/sim/engine.py), which plans and runs.
"""

from __future__ import annotations

from npu_des.config import HardwareConfig, RunOptions
from npu_des.metrics import RunResult
from npu_des.sim.autotune import resolve_choices
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.engine import Progress, simulate_once
from npu_des.sim.oracles import FreeDyDmaEngine
from npu_des.sim.training import combine, training_halves
from npu_des.workload import Workload


def simulate(workload: Workload, hw: HardwareConfig, options: RunOptions,
             partitions: dict[str, str] | None = None, dma_engine: type[DmaEngine] = DmaEngine,
             progress: Progress | None = None, record_timeline: bool = True,
             forward: RunResult | None = None) -> RunResult:
    """Simulate the backward pass of `workload` on `hw` in the order `options.order` (or its forward pass).

    `partitions` (layer -> core mapping) overrides `options.core_mapping` for those layers; choices
    left to simulation are resolved per layer first (autotune.py). `dma_engine` lets an oracle variant
    (e.g. npu_des.sweep.variants.DyOnceDmaEngine) replace the DMA model; `run.dw_dy: free` selects the
    oracle engine that serves the dW op's dY copies for free (npu_des/sim/oracles.py).
    `progress(done, total)` is called as tile tasks complete (about every 1%), for progress bars.
    `record_timeline=False` keeps no timeline or SPM samples (sweeps): less memory, the same numbers.
    `run.pass: training` simulates the forward pass, then the backward pass, and combines them
    (npu_des/sim/training.py); `forward` reuses the forward half of an earlier training step of the same
    workload and hardware (it is the same for every backward order).
    """
    if options.pass_ == "training":
        forward_options, backward_options = training_halves(options)
        if forward is None:
            forward = simulate(workload, hw, forward_options, record_timeline=record_timeline)
        elif forward.options != forward_options.model_dump(mode="json", by_alias=True):
            raise ValueError("`forward` was simulated with other options than this step's forward half")
        backward = simulate(workload, hw, backward_options, partitions, dma_engine, progress, record_timeline)
        return combine(forward, backward, options)
    if options.memory_model == "scalesim":  # SCALE-Sim's operand-matrix accounting, op by op
        from npu_des.sim.scalesim_run import simulate_scalesim  # numpy: only for this model

        return simulate_scalesim(workload, hw, options)
    options = resolve_choices(workload, hw, options)
    if options.dw_dy == "free" and dma_engine is DmaEngine:
        dma_engine = FreeDyDmaEngine
    return simulate_once(workload, hw, options, partitions, dma_engine, progress, record_timeline)
