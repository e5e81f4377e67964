"""The Python API for notebooks and scripts: `npu_des.simulate(...)` and a result with tables.

`npu-des run` in one call: a model (zoo name, ONNX file, SCALE-Sim topology, or a Workload), a
hardware preset or YAML file (or a HardwareConfig), run options as keywords, `--set`-style overrides.
The result keeps the RunResult and offers `.summary` (the summary.json dict), `.layers` (layers.csv
as a pandas DataFrame), `.timeline` (TimelineEvents) and `.write(dir)` (the files `--out` writes).
Documented in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.config import (
    HardwareConfig,
    RunOptions,
    apply_overrides,
    hardware_from_dict,
    load_hardware,
    run_options,
    with_preset_batch,
)
from npu_des.errors import ConfigError
from npu_des.metrics import RunResult, TimelineEvent
from npu_des.models import build_model
from npu_des.workload import Workload

if TYPE_CHECKING:
    import pandas

__all__ = ["Simulation", "load_workload", "simulate"]


@dataclass(frozen=True)
class Simulation:
    """One simulated run, as tables a notebook can plot: `summary`, `layers`, `timeline`."""

    result: RunResult
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> dict[str, Any]:
        """What summary.json holds: totals, DRAM bytes by direction and kind, SPM, utilisation, options."""
        return self.result.summary()

    @property
    def layers(self) -> pandas.DataFrame:
        """One row per layer, the columns of layers.csv (docs/metrics.md)."""
        import pandas

        return pandas.DataFrame([row.flat() for row in self.result.layers])

    @property
    def timeline(self) -> list[TimelineEvent]:
        """Every compute tile, DMA transfer and DRAM busy interval, in start order."""
        return list(self.result.timeline)

    def write(self, directory: str | Path) -> list[Path]:
        """Write summary.json, layers.csv, timeline.csv and spm.csv, as `npu-des run --out` does."""
        from npu_des.report.tables import write_run

        return write_run(self.result, Path(directory))


def _hardware(hardware: str | Path | HardwareConfig, overrides: list[str]) -> HardwareConfig:
    """A preset, YAML file or HardwareConfig with hardware `--set` overrides applied."""
    if not isinstance(hardware, HardwareConfig):
        return load_hardware(str(hardware), overrides)
    if not overrides:
        return hardware
    data = apply_overrides(hardware.model_dump(mode="json", by_alias=True), overrides, hardware.name)
    return hardware_from_dict(data, source=hardware.name)


def load_workload(model: str | Path | Workload, batch: int | None = None) -> tuple[Workload, list[str]]:
    """A workload and the notes its import left: a zoo name, an .onnx file or a SCALE-Sim topology .csv."""
    if isinstance(model, Workload):
        return model, []
    text = str(model)
    if text.endswith(".onnx"):
        from npu_des.importers.onnx_import import import_onnx

        imported = import_onnx(text, batch)
        return imported.workload, imported.notes()
    if text.endswith(".csv"):
        from npu_des.importers.scalesim import load_topology

        return load_topology(text, batch=batch or 1), []
    return build_model(text, batch=batch or 1), []


def simulate(
    model: str | Path | Workload = "resnet50",
    hardware: str | Path | HardwareConfig = "edge_dual",
    options: RunOptions | None = None,
    *,
    overrides: Sequence[str] = (),
    batch: int | None = None,
    **fields: Any,
) -> Simulation:
    """Simulate `model` on `hardware` (default: ResNet-50 backward on edge_dual with RunOptions defaults).

    `fields` are run options by name (order="interleaved", pass_="forward", loop_order="auto", ...);
    `overrides` are `--set` strings ("dram.bandwidth_gbps=6", "run.prefetch_depth=2"). Bad input raises
    npu_des.errors.ConfigError with the same one-line message the CLI prints.
    """
    from npu_des.sim.driver import simulate as simulate_run

    if options is not None and (fields or any(o.startswith("run.") for o in overrides)):
        raise ConfigError("give run options either as `options` or as keywords/overrides, not both",
                          field="options")
    hw = _hardware(hardware, [o for o in overrides if not o.startswith("run.")])
    chosen = with_preset_batch(options or run_options(list(overrides), batch=batch, **fields), hw)
    workload, notes = load_workload(model, chosen.batch if batch is None else batch)
    result = simulate_run(workload, hw, chosen)
    result.notes = list(notes)
    return Simulation(result, tuple(notes))
