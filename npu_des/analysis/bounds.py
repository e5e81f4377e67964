"""Per-layer bounds and the roofline: is each layer limited by its arithmetic or by its compulsory traffic?

For a layer:
- compute bound = its compute cycles (array and vector busy) / the cores it can occupy, i.e.
  min(cores, distinct output tiles: partial sums of one output tile run one after another);
- memory bound = its compulsory DRAM bytes (npu_des.schedule.compulsory) / DRAM bytes per cycle;
- achieved = its window, from its first event (a load, possibly prefetched early) to its last
  (a write-back or the op's end); labelled by the larger bound.
Roofline point: arithmetic intensity = executed MACs / DRAM bytes, achieved MACs per cycle = executed
MACs / window. Both roofs hold by construction (the arrays never beat R x C MACs per cycle per core, the
channel never moves more than its bandwidth, and a layer's transfers all lie inside its window), so
a point above a roof is a simulator bug.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from npu_des.analysis.counts import LayerCounts
from npu_des.kinds import _Vocabulary
from npu_des.metrics import RunResult
from npu_des.schedule.compulsory import compulsory_traffic
from npu_des.schedule.tasks import Schedule
from npu_des.sim.records import layer_spans


class Bound(_Vocabulary):
    """Which bound of a layer is the larger."""

    COMPUTE = "compute"
    MEMORY = "memory"


@dataclass(frozen=True)
class LayerBound:
    layer: str
    compute_bound_cycles: float
    memory_bound_cycles: float
    window_start: float
    window_end: float
    executed_macs: int
    dram_bytes: int
    usable_cores: int

    @property
    def window_cycles(self) -> float:
        return self.window_end - self.window_start

    @property
    def bound(self) -> Bound:
        return Bound.COMPUTE if self.compute_bound_cycles >= self.memory_bound_cycles else Bound.MEMORY

    @property
    def arithmetic_intensity(self) -> float:
        """Executed MACs per DRAM byte (inf for a layer that moved no bytes)."""
        return self.executed_macs / self.dram_bytes if self.dram_bytes else float("inf")

    @property
    def macs_per_cycle(self) -> float:
        return self.executed_macs / self.window_cycles if self.window_cycles > 0 else 0.0

    def columns(self) -> dict[str, Any]:
        """layers.csv columns of this layer's bounds."""
        return {
            "compute_bound_cycles": self.compute_bound_cycles,
            "memory_bound_cycles": self.memory_bound_cycles,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "window_cycles": self.window_cycles,
            "bound": str(self.bound),
            "usable_cores": self.usable_cores,
            "executed_macs": self.executed_macs,
            "arithmetic_intensity": self.arithmetic_intensity,
            "macs_per_cycle": self.macs_per_cycle,
        }


def layer_bounds(
    result: RunResult, schedule: Schedule, counts: Mapping[str, LayerCounts]
) -> list[LayerBound]:
    """Every layer's bounds and window, in model order."""
    compulsory: dict[str, int] = defaultdict(int)
    for (layer, _kind), nbytes in compulsory_traffic(schedule).items():
        compulsory[layer] += nbytes
    spans = layer_spans(result.timeline)
    bounds = []
    for row in result.layers:
        layer_counts = counts[row.layer]
        cores = max(1, min(result.cores, layer_counts.output_tiles))
        start, last = spans.get(row.layer, (row.start, row.end))  # no timeline kept: the row's span
        bounds.append(LayerBound(
            row.layer,
            row.compute_cycles / cores,
            compulsory[row.layer] / result.dram_bytes_per_cycle,
            start,
            max(last, row.end, start),
            layer_counts.executed_macs,
            sum(layer_counts.dram_bytes.values()),
            cores,
        ))
    return bounds


def peak_macs_per_cycle(result: RunResult) -> int:
    return result.cores * result.pe_count_per_core


def bounds_summary(result: RunResult, bounds: list[LayerBound]) -> dict[str, Any]:
    """The `bounds` section of summary.json: roofs, bandwidth utilisation, how many layers each bound
    limits."""
    capacity = result.dram_bytes_per_cycle * result.total_cycles
    labels = [bound.bound for bound in bounds]
    return {
        "peak_macs_per_cycle": peak_macs_per_cycle(result),
        "dram_bytes_per_cycle": result.dram_bytes_per_cycle,
        "dram_bandwidth_utilisation": result.total_dram_bytes / capacity if capacity else 0.0,
        "compute_bound_layers": labels.count(Bound.COMPUTE),
        "memory_bound_layers": labels.count(Bound.MEMORY),
    }
