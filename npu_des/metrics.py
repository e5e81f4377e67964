"""RunResult: what one simulation measured, as plain data that reports and sweeps read.

Tensor kinds are exactly X, W, dY, dX, dW (forward runs add Y); directions are read (DRAM -> SPM) and write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from npu_des.kinds import ALL_KINDS, DIRECTIONS, KINDS, Direction, TensorKind

__all__ = [
    "ALL_KINDS",
    "CORE_UNIT",
    "DIRECTIONS",
    "KINDS",
    "LayerRow",
    "RunResult",
    "TimelineEvent",
    "kinds_of",
    "pass_title",
]

CORE_UNIT = re.compile(
    r"core(\d+)\.(\w+)$"
)  # a core's unit in `TimelineEvent.resource`: core0.array, core1.dma


def kinds_of(dram_bytes: dict[str, dict[str, int]]) -> tuple[TensorKind, ...]:
    """The kinds a run's byte table covers: KINDS, plus Y for a forward run."""
    return ALL_KINDS if TensorKind.Y in dram_bytes.get(Direction.READ, {}) else KINDS


PASS_TITLES = {"forward": "forward", "backward": "backward", "training": "training step (forward + backward)"}


def pass_title(pass_name: str) -> str:
    """How titles name a run's pass (`run.pass`): forward, backward, or a training step."""
    return PASS_TITLES.get(pass_name, pass_name)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One busy interval of one resource: a compute tile, a DMA transfer, or a DRAM-channel busy period."""

    resource: str  # "core0.array", "core0.dma", "dram" (CORE_UNIT matches the core units)
    start: float  # cycles
    end: float
    kind: str  # compute: op (dX/dW); dma: tensor kind; dram: "busy"
    layer: str
    op: str
    tile: str
    bytes: int
    direction: str  # dma: read/write; otherwise ""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, kw_only=True)
class LayerRow:
    """Per-layer statistics (both gradient ops of the layer, or its forward op); built by keyword."""

    layer: str
    kind: str
    M: int
    N: int
    K: int
    groups: int
    tile: str
    tasks: int
    start: float
    end: float
    dX_end: float
    dW_end: float
    compute_cycles: int
    macs: int
    read_bytes: dict[str, int]  # tensor kind -> bytes
    write_bytes: dict[str, int]
    spm_hits: int
    spm_misses: int
    stalls: dict[str, float] = field(default_factory=dict)  # StallReason of a wait -> cycles waiting for it
    pass_name: str = ""  # a training step's rows: "forward" or "backward" (the layers.csv column `pass`)

    @property
    def hit_rate(self) -> float:
        total = self.spm_hits + self.spm_misses
        return self.spm_hits / total if total else 1.0

    @property
    def key(self) -> str:
        """The row's name in `RunResult.layer_analyses`: the layer, or `pass:layer` in a training step."""
        return f"{self.pass_name}:{self.layer}" if self.pass_name else self.layer

    def flat(self) -> dict[str, Any]:
        """One CSV row: nested byte dicts become columns like read_dY, write_dW (and read_Y, write_Y when
        the run moved Y: forward runs, vector ops), so a row's byte columns add up to what it moved;
        per-layer stalls become stall_<reason>_cycles; a training step's rows start with their `pass`."""
        row: dict[str, Any] = {"pass": self.pass_name} if self.pass_name else {}
        skipped = ("read_bytes", "write_bytes", "stalls", "pass_name")
        row.update({k: v for k, v in asdict(self).items() if k not in skipped})
        row["cycles"] = self.end - self.start
        kinds = ALL_KINDS if TensorKind.Y in self.read_bytes or TensorKind.Y in self.write_bytes else KINDS
        row.update({f"read_{kind}": self.read_bytes.get(kind, 0) for kind in kinds})
        row.update({f"write_{kind}": self.write_bytes.get(kind, 0) for kind in kinds})
        row["hit_rate"] = self.hit_rate
        row.update({f"stall_{reason}_cycles": cycles for reason, cycles in self.stalls.items()})
        return row


@dataclass
class RunResult:
    """Everything one run measured. `summary()` is the JSON-ready headline; the rest feeds tables and
    plots."""

    model: str
    hardware: str
    order: str
    cores: int
    clock_ghz: float
    total_cycles: float
    compute_cycles: int
    macs: int
    core_busy_cycles: list[int]
    pe_count_per_core: int
    dram_bytes: dict[str, dict[str, int]]  # direction -> tensor kind -> bytes
    compulsory_bytes: dict[str, int]  # tensor kind -> bytes (each distinct tile once)
    dram_bytes_per_cycle: float
    spm_capacity_bytes: int
    spm_peak_bytes: int
    spm_hits: int
    spm_misses: int
    spm_evictions: int
    dram_transfers: int
    tasks: int
    layers: list[LayerRow] = field(repr=False)
    timeline: Sequence[TimelineEvent] = field(repr=False)  # built on first read (npu_des/sim/records.py)
    spm_occupancy: Sequence[tuple[float, int, int]] = field(repr=False)  # (cycle, used bytes, pinned bytes)
    options: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> tile / loop order / partition
    arrays: list[dict[str, int]] = field(
        default_factory=list
    )  # per core: reconfigurations, reuses, skipped cycles
    vector_cycles: int = 0  # busy cycles of all vector units (non-GEMM backward ops), in core_busy_cycles too
    vector_span_cycles: float = 0.0  # wall cycles the vector ops spanned (their DRAM traffic included)
    notes: list[str] = field(
        default_factory=list
    )  # what the inputs left out: skipped ONNX nodes, unmapped keys
    stalls: dict[str, dict[str, float]] = field(default_factory=dict)  # "core<i>" -> StallReason -> cycles
    # Sections derived after the run (npu_des/analysis/explain.py: energy, bounds), merged into summary(),
    # and their per-layer columns (layer -> column -> value), merged into layers.csv.
    analyses: dict[str, Any] = field(default_factory=dict)
    layer_analyses: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # A training step (`run.pass: training`, npu_des/sim/training.py): its forward and backward halves, each
    # a whole run; the fields above are their combination and summary() adds each half's as `passes`.
    passes: dict[str, RunResult] = field(default_factory=dict, repr=False)

    @property
    def seconds(self) -> float:
        return self.total_cycles / (self.clock_ghz * 1e9)

    @property
    def pass_name(self) -> str:
        """The simulated pass (`run.pass`): backward unless the options say otherwise."""
        return str(self.options.get("pass", "forward" if self.order == "forward" else "backward"))

    @property
    def total_dram_bytes(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.dram_bytes.values())

    @property
    def spm_hit_rate(self) -> float:
        total = self.spm_hits + self.spm_misses
        return self.spm_hits / total if total else 1.0

    @property
    def core_utilisation(self) -> list[float]:
        """Fraction of the run each core's array was busy."""
        return [busy / self.total_cycles if self.total_cycles else 0.0 for busy in self.core_busy_cycles]

    @property
    def pe_utilisation(self) -> float:
        """MACs over PE-cycles available on all cores."""
        available = self.total_cycles * self.pe_count_per_core * self.cores
        return self.macs / available if available else 0.0

    @property
    def lower_bound_cycles(self) -> float:
        """No schedule beats max(compute spread over all cores, compulsory bytes at full bandwidth); a
        training step's halves run one after the other, so its bound is the sum of theirs."""
        if self.passes:
            return sum(half.lower_bound_cycles for half in self.passes.values())
        compute = (self.compute_cycles + self.vector_cycles) / self.cores
        memory = sum(self.compulsory_bytes.values()) / self.dram_bytes_per_cycle
        return max(compute, memory)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hardware": self.hardware,
            "order": self.order,
            "cores": self.cores,
            "clock_ghz": self.clock_ghz,
            "dram_bytes_per_cycle": self.dram_bytes_per_cycle,
            "total_cycles": self.total_cycles,
            "seconds": self.seconds,
            "compute_cycles": self.compute_cycles,
            "vector_cycles": self.vector_cycles,
            "vector_span_cycles": self.vector_span_cycles,
            "macs": self.macs,
            "notes": self.notes,
            "tasks": self.tasks,
            "lower_bound_cycles": self.lower_bound_cycles,
            "dram_bytes": self.dram_bytes,
            "total_dram_bytes": self.total_dram_bytes,
            "compulsory_bytes": self.compulsory_bytes,
            "dram_transfers": self.dram_transfers,
            "spm": {
                "capacity_bytes": self.spm_capacity_bytes,
                "peak_bytes": self.spm_peak_bytes,
                "hits": self.spm_hits,
                "misses": self.spm_misses,
                "hit_rate": self.spm_hit_rate,
                "evictions": self.spm_evictions,
            },
            "core_busy_cycles": self.core_busy_cycles,
            "core_utilisation": self.core_utilisation,
            "pe_utilisation": self.pe_utilisation,
            "options": self.options,
            "choices": self.choices,
            "arrays": self.arrays,
            "stalls": self.stalls,
            **self.analyses,
            **({"passes": {name: half.summary() for name, half in self.passes.items()}} if self.passes
               else {}),
        }
