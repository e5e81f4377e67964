"""Table rows of a run's derived sections (summary.json `energy`, `bounds`, `stalls`), from the summary dicts.

Shared by the run's printed table, `npu-des compare` and `npu-des report`, so the three read the same
numbers the same way; a section a run lacks gives an empty cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MJ = 1e9  # pJ per mJ
COMPONENTS = ("mac", "spm", "dram", "vector", "leakage")


def energy_rows(summaries: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Energy total, by component, pJ/MAC and TOPS/W (rows only if some run has an energy section)."""
    energies = [summary.get("energy") for summary in summaries]
    if not any(energies):
        return []

    def cells(render: Any) -> list[str]:
        return [render(energy) if energy else "" for energy in energies]

    rows = [("energy", cells(lambda e: f"{e['total_pj'] / MJ:.3f} mJ"))]
    rows += [
        (f"  {part}", cells(lambda e, part=part: f"{e['components_pj'][part] / MJ:.3f} mJ"
                            f" ({e['components_pj'][part] / e['total_pj']:.0%})" if e["total_pj"] else "0"))
        for part in COMPONENTS
        if any(energy and energy["components_pj"].get(part) for energy in energies)
    ]
    rows += [
        ("energy per MAC", cells(lambda e: f"{e['pj_per_mac']:.2f} pJ")),
        ("TOPS/W", cells(lambda e: f"{e['tops_per_watt']:.3f} (at {e['technology_nm']:g} nm)")),
    ]
    return rows


def bounds_rows(summaries: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """DRAM bandwidth utilisation and how many layers each bound limits."""
    bounds = [summary.get("bounds") for summary in summaries]
    if not any(bounds):
        return []
    return [
        ("DRAM bandwidth utilisation",
         [f"{b['dram_bandwidth_utilisation']:.1%}" if b else "" for b in bounds]),
        ("layers compute / memory bound",
         [f"{b['compute_bound_layers']} / {b['memory_bound_layers']}" if b else "" for b in bounds]),
    ]


def stall_rows(summaries: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Array stall cycles by reason, summed over cores, when the runs recorded them (`stalls`)."""
    totals = [stall_totals(summary) for summary in summaries]
    reasons = sorted({reason for total in totals for reason in total})
    return [
        (f"stall: {reason}", [f"{total.get(reason, 0):,.0f} cyc" if total else "" for total in totals])
        for reason in reasons
    ]


def stall_totals(summary: Mapping[str, Any]) -> dict[str, float]:
    """Stall cycles by reason over all cores, from summary.json's `stalls` ({"core<i>": {reason: cycles}},
    npu_des/sim/stalls.py; its `compute` share is busy time, not a stall, and is left out); a flat
    {reason: cycles} is read as one core, anything else as no stall data."""
    stalls = summary.get("stalls")
    if not isinstance(stalls, Mapping):
        return {}
    cores = [part for part in stalls.values() if isinstance(part, Mapping)]
    totals = _cycles_by_reason(cores if cores else [stalls])
    totals.pop("compute", None)
    return totals


def _cycles_by_reason(parts: list[Any]) -> dict[str, float]:
    """Sum {reason: number or list of numbers} mappings; other values are skipped."""
    out: dict[str, float] = {}
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        for reason, value in part.items():
            numbers = value if isinstance(value, list) else [value]
            if numbers and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
                out[str(reason)] = out.get(str(reason), 0.0) + float(sum(numbers))
    return out


def explained_rows(summaries: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    return [*energy_rows(summaries), *bounds_rows(summaries), *stall_rows(summaries)]
