"""The energy model: counted accesses times per-access energies, plus leakage power times run time.

    E = executed MACs * E_mac(element size) + SPM read bytes * E_spm_read + SPM write bytes * E_spm_write
        + DRAM bytes * E_dram + vector elements * E_vector + P_leakage * seconds

Counts come from npu_des.analysis.counts (what the run did); energies from the hardware's `energy:`
section (config.EnergyConfig; the presets cite their sources). A layer's energy is its dynamic part:
leakage is charged once for the run's makespan, since layers overlap in time. Energy by tensor kind
is the DRAM and SPM energy of that kind's bytes (MACs, vector work and leakage belong to no kind).
TOPS/W counts two operations per dense MAC (the network's arithmetic, zero-skipped or not) per joule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from npu_des.analysis.counts import LayerCounts
from npu_des.config import HardwareConfig
from npu_des.errors import ConfigError
from npu_des.kinds import _Vocabulary


class EnergyComponent(_Vocabulary):
    """Where energy goes: the arrays' MACs, the SPM, DRAM, the vector units, and leakage."""

    MAC = "mac"
    SPM = "spm"
    DRAM = "dram"
    VECTOR = "vector"
    LEAKAGE = "leakage"


DYNAMIC = (EnergyComponent.MAC, EnergyComponent.SPM, EnergyComponent.DRAM, EnergyComponent.VECTOR)
PJ_PER_J = 1e12


@dataclass(frozen=True)
class Prices:
    """Per-access energies (pJ) and leakage power (W) of one hardware configuration."""

    mac_pj: float
    spm_read_pj_per_byte: float
    spm_write_pj_per_byte: float
    dram_pj_per_byte: float
    vector_pj_per_element: float
    leakage_w: float
    technology_nm: float

    @classmethod
    def of(cls, hw: HardwareConfig) -> Prices:
        """The prices of `hw`; a hardware without an `energy:` section cannot be priced (one-line error)."""
        energy, mac_pj = hw.energy, hw.mac_energy_pj
        if energy is None or mac_pj is None:
            raise ConfigError(
                "missing required section (per-access energies; see docs/energy.md)",
                source=f"hardware '{hw.name}'",
                field="energy",
            )
        return cls(mac_pj, energy.spm_read_pj_per_byte, energy.spm_write_pj_per_byte,
                   energy.dram_pj_per_byte, energy.vector_pj_per_element, energy.leakage_mw / 1e3,
                   energy.technology_nm)

    def layer_pj(self, counts: LayerCounts) -> dict[EnergyComponent, float]:
        """Dynamic energy of one layer's counts, by component."""
        return {
            EnergyComponent.MAC: counts.executed_macs * self.mac_pj,
            EnergyComponent.SPM: sum(counts.spm_read_bytes.values()) * self.spm_read_pj_per_byte
            + sum(counts.spm_write_bytes.values()) * self.spm_write_pj_per_byte,
            EnergyComponent.DRAM: sum(counts.dram_bytes.values()) * self.dram_pj_per_byte,
            EnergyComponent.VECTOR: counts.vector_elements * self.vector_pj_per_element,
        }

    def kind_pj(self, counts: Mapping[str, LayerCounts]) -> dict[str, float]:
        """DRAM + SPM energy of each tensor kind's bytes, over all layers."""
        out: dict[str, float] = {}
        for layer in counts.values():
            for kind, nbytes in layer.dram_bytes.items():
                out[kind] = out.get(kind, 0.0) + nbytes * self.dram_pj_per_byte
            for kind, nbytes in layer.spm_read_bytes.items():
                out[kind] = out.get(kind, 0.0) + nbytes * self.spm_read_pj_per_byte
            for kind, nbytes in layer.spm_write_bytes.items():
                out[kind] = out.get(kind, 0.0) + nbytes * self.spm_write_pj_per_byte
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class EnergyReport:
    """A run's energy: per layer (dynamic), per component, per tensor kind, totals and efficiency."""

    prices: Prices
    layers_pj: dict[str, dict[EnergyComponent, float]]
    kinds_pj: dict[str, float]
    leakage_pj: float
    macs: int
    executed_macs: int
    seconds: float

    @property
    def components_pj(self) -> dict[EnergyComponent, float]:
        totals = {part: sum(layer[part] for layer in self.layers_pj.values()) for part in DYNAMIC}
        return {**totals, EnergyComponent.LEAKAGE: self.leakage_pj}

    @property
    def total_pj(self) -> float:
        return sum(self.components_pj.values())

    @property
    def pj_per_mac(self) -> float:
        return self.total_pj / self.macs if self.macs else 0.0

    @property
    def tops_per_watt(self) -> float:
        """Dense operations (2 per MAC) per joule, in tera: 2 / (pJ per MAC)."""
        return 2 * self.macs / self.total_pj if self.total_pj else 0.0

    def summary(self) -> dict[str, Any]:
        """The `energy` section of summary.json (pJ unless the key says otherwise)."""
        prices = self.prices
        return {
            "technology_nm": prices.technology_nm,
            "total_pj": self.total_pj,
            "components_pj": {str(part): value for part, value in self.components_pj.items()},
            "kinds_pj": self.kinds_pj,
            "macs": self.macs,
            "executed_macs": self.executed_macs,
            "pj_per_mac": self.pj_per_mac,
            "tops_per_watt": self.tops_per_watt,
            "average_power_w": self.total_pj / PJ_PER_J / self.seconds if self.seconds else 0.0,
            "prices": {
                "mac_pj": prices.mac_pj,
                "spm_read_pj_per_byte": prices.spm_read_pj_per_byte,
                "spm_write_pj_per_byte": prices.spm_write_pj_per_byte,
                "dram_pj_per_byte": prices.dram_pj_per_byte,
                "vector_pj_per_element": prices.vector_pj_per_element,
                "leakage_w": prices.leakage_w,
            },
        }

    def layer_columns(self, layer: str) -> dict[str, float]:
        """layers.csv columns of one layer: dynamic energy in total and by component (pJ)."""
        parts = self.layers_pj[layer]
        by_part = {f"energy_{part}_pj": value for part, value in parts.items()}
        return {"energy_pj": sum(parts.values()), **by_part}


def price_run(counts: Mapping[str, LayerCounts], prices: Prices, seconds: float) -> EnergyReport:
    """Energy of a run from its per-layer counts and makespan."""
    return EnergyReport(
        prices,
        {name: prices.layer_pj(layer) for name, layer in counts.items()},
        prices.kind_pj(counts),
        prices.leakage_w * seconds * PJ_PER_J,
        sum(layer.macs for layer in counts.values()),
        sum(layer.executed_macs for layer in counts.values()),
        seconds,
    )
