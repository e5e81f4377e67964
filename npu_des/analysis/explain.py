"""The hook that adds what explains a finished run to it: per-layer bounds, and energy when the hardware
prices its accesses.

`explain(result, workload, hw, options)` re-plans the run's schedule (as the invariant checks do),
counts what the run did (npu_des.analysis.counts) and fills `result.analyses` (summary.json sections
`bounds` and `energy`) and `result.layer_analyses` (layers.csv columns). The simulation itself never
calls it, so a plain `simulate()` and the golden summaries are unchanged. A training step is explained
half by half (each half's own sections land in summary.json `passes`) and the halves' layers, bounds
and energies are then combined on the step's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from npu_des.analysis.bounds import LayerBound, bounds_summary, layer_bounds
from npu_des.analysis.counts import LayerCounts, count_accesses
from npu_des.analysis.energy import EnergyReport, Prices, price_run
from npu_des.analysis.replay import rebuild_schedule
from npu_des.config import HardwareConfig, RunOptions
from npu_des.metrics import RunResult
from npu_des.sim.training import halves
from npu_des.workload import Workload


@dataclass(frozen=True)
class _Analysis:
    bounds: list[LayerBound]
    counts: dict[str, LayerCounts]
    energy: EnergyReport | None


def explain(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> RunResult:
    """Add bounds (always) and energy (if `hw.energy` is set) to `result`, in place; returns it.

    A run under `run.memory_model: scalesim` has no tiles to replay (whole-layer GEMMs through SCALE-Sim's
    SRAMs, whose accesses it does not count), so it gets neither, and a note says so."""
    if options.memory_model == "scalesim":
        result.notes.append("no bounds or energy under memory model scalesim (whole-layer GEMMs: no tiles "
                            "to replay)")
        return result
    if result.passes:
        return _explain_training(result, workload, hw)
    _record(result, _analyse(result, workload, hw, options))
    return result


def _analyse(result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions) -> _Analysis:
    schedule = rebuild_schedule(result, workload, hw, options)
    counts = count_accesses(result, schedule, hw)
    energy = energy_of(result, counts, hw) if hw.energy is not None else None
    return _Analysis(layer_bounds(result, schedule, counts), counts, energy)


def _record(result: RunResult, analysis: _Analysis) -> None:
    """Fill the run's summary sections and layers.csv columns."""
    result.analyses["bounds"] = bounds_summary(result, analysis.bounds)
    columns: dict[str, dict[str, Any]] = {
        bound.layer: {**spm_columns(analysis.counts[bound.layer]), **bound.columns()}
        for bound in analysis.bounds
    }
    if analysis.energy is not None:
        result.analyses["energy"] = analysis.energy.summary()
        for name, layer_columns in columns.items():
            layer_columns.update(analysis.energy.layer_columns(name))
    result.layer_analyses = columns


def _explain_training(result: RunResult, workload: Workload, hw: HardwareConfig) -> RunResult:
    """Each half explained alone, then its layers keyed `pass:layer` and shifted onto the step's clock."""
    offset = 0.0
    bounds: list[LayerBound] = []
    counts: dict[str, LayerCounts] = {}
    energies: list[tuple[str, EnergyReport]] = []
    for name, half, options in halves(result):
        analysis = _analyse(half, workload, hw, options)
        _record(half, analysis)
        bounds += [replace(bound, layer=f"{name}:{bound.layer}", window_start=bound.window_start + offset,
                           window_end=bound.window_end + offset) for bound in analysis.bounds]
        counts.update({f"{name}:{layer}": layer_counts for layer, layer_counts in analysis.counts.items()})
        if analysis.energy is not None:
            energies.append((name, analysis.energy))
        offset += half.total_cycles
    step_energy = _combined_energy(energies) if energies else None
    result.analyses["bounds"] = bounds_summary(result, bounds)
    columns = {bound.layer: {**spm_columns(counts[bound.layer]), **bound.columns()} for bound in bounds}
    if step_energy is not None:
        result.analyses["energy"] = step_energy.summary()
        for key, layer_columns in columns.items():
            layer_columns.update(step_energy.layer_columns(key))
    result.layer_analyses = columns
    return result


def _combined_energy(energies: list[tuple[str, EnergyReport]]) -> EnergyReport:
    """The step's energy: both halves' layers (keyed `pass:layer`), kinds and leakage added up."""
    kinds: dict[str, float] = {}
    for _, report in energies:
        for kind, pj in report.kinds_pj.items():
            kinds[kind] = kinds.get(kind, 0.0) + pj
    return EnergyReport(
        energies[0][1].prices,
        {f"{name}:{layer}": pj for name, report in energies for layer, pj in report.layers_pj.items()},
        dict(sorted(kinds.items())),
        sum(report.leakage_pj for _, report in energies),
        sum(report.macs for _, report in energies),
        sum(report.executed_macs for _, report in energies),
        sum(report.seconds for _, report in energies),
    )


def energy_of(result: RunResult, counts: dict[str, LayerCounts], hw: HardwareConfig) -> EnergyReport:
    """The run's energy under `hw`'s prices (a ConfigError if it has none)."""
    return price_run(counts, Prices.of(hw), result.seconds)


def spm_columns(counts: LayerCounts) -> dict[str, int]:
    """layers.csv columns of a layer's SPM traffic (array operands, DMA fills and stores, vector ops)."""
    return {
        "spm_read_bytes": sum(counts.spm_read_bytes.values()),
        "spm_write_bytes": sum(counts.spm_write_bytes.values()),
    }
