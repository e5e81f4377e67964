"""The hook that adds what explains a finished run to it: per-layer bounds, and energy when the hardware
prices its accesses.

`explain(result, workload, hw, options)` re-plans the run's schedule (as the invariant checks do),
counts what the run did (npu_des.analysis.counts) and fills `result.analyses` (summary.json sections
`bounds` and `energy`) and `result.layer_analyses` (layers.csv columns). The simulation itself never
calls it, so a plain `simulate()` and the golden summaries are unchanged.
"""

from __future__ import annotations

from npu_des.analysis.bounds import bounds_summary, layer_bounds
from npu_des.analysis.counts import LayerCounts, count_accesses
from npu_des.analysis.energy import EnergyReport, Prices, price_run
from npu_des.analysis.replay import rebuild_schedule
from npu_des.config import HardwareConfig, RunOptions
from npu_des.metrics import RunResult
from npu_des.workload import Workload


def explain(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> RunResult:
    """Add bounds (always) and energy (if `hw.energy` is set) to `result`, in place; returns it.

    A run under `run.memory_model: scalesim` has no tiles to replay (whole-layer GEMMs through SCALE-Sim's
    SRAMs, whose accesses it does not count), so it gets neither, and a note says so."""
    if options.memory_model == "scalesim":
        result.notes.append("no bounds or energy under memory model scalesim (whole-layer GEMMs: no tiles "
                            "to replay)")
        return result
    schedule = rebuild_schedule(result, workload, hw, options)
    counts = count_accesses(result, schedule, hw)
    bounds = layer_bounds(result, schedule, counts)
    result.analyses["bounds"] = bounds_summary(result, bounds)
    columns = {bound.layer: {**spm_columns(counts[bound.layer]), **bound.columns()} for bound in bounds}
    if hw.energy is not None:
        energy = energy_of(result, counts, hw)
        result.analyses["energy"] = energy.summary()
        for name, layer_columns in columns.items():
            layer_columns.update(energy.layer_columns(name))
    result.layer_analyses = columns
    return result


def energy_of(result: RunResult, counts: dict[str, LayerCounts], hw: HardwareConfig) -> EnergyReport:
    """The run's energy under `hw`'s prices (a ConfigError if it has none)."""
    return price_run(counts, Prices.of(hw), result.seconds)


def spm_columns(counts: LayerCounts) -> dict[str, int]:
    """layers.csv columns of a layer's SPM traffic (array operands, DMA fills and stores, vector ops)."""
    return {
        "spm_read_bytes": sum(counts.spm_read_bytes.values()),
        "spm_write_bytes": sum(counts.spm_write_bytes.values()),
    }
