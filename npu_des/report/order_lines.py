"""The lines under `npu-des run`'s table: each order against the baselines, what bounds it, the dY it saved.

One line per run. The fixed sequential baseline (the paper's) gets what bounds it; every other order
its time over that baseline (and over the tuned baseline when that ran too), for a training step also
its backward half alone, and the dY bytes it read less. "Compute-bound" or "memory-bound" names the
busier of the two resources the run shares: the arrays (busy cycles over cores x run time) and the DRAM
channel (bytes over bandwidth x run time; under processor sharing the channel runs at peak whenever it
is busy, so that is its busy share). When the run recorded stall attribution (summary.json `stalls`),
the share of array time spent waiting on memory (SPM space and loads) is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from npu_des.kinds import Direction, TensorKind
from npu_des.metrics import RunResult
from npu_des.report.explained import stall_totals

MB = 1e6
MEMORY_STALLS = ("spm", "load")  # stall reasons (prefixes) that wait on the memory system


def is_fixed_baseline(result: RunResult) -> bool:
    return result.options.get("order") == "sequential" and result.options.get("baseline", "fixed") == "fixed"


def is_tuned_baseline(result: RunResult) -> bool:
    return result.options.get("order") == "sequential" and result.options.get("baseline") == "tuned"


def dy_read_bytes(result: RunResult) -> int:
    return int(result.dram_bytes.get(Direction.READ, {}).get(TensorKind.DY, 0))


def array_busy(result: RunResult) -> float:
    """Busy share of the arrays over the run (all cores)."""
    return sum(result.core_utilisation) / result.cores if result.cores else 0.0


def dram_busy(result: RunResult) -> float:
    """Busy share of the DRAM channel over the run."""
    capacity = result.dram_bytes_per_cycle * result.total_cycles
    return result.total_dram_bytes / capacity if capacity else 0.0


def bound_phrase(result: RunResult) -> str:
    """`compute-bound (array busy 80%, DRAM busy 67%)`, with the memory-stall share when recorded."""
    array, dram = array_busy(result), dram_busy(result)
    label = "compute-bound" if array >= dram else "memory-bound"
    text = f"{label} (array busy {array:.0%}, DRAM busy {dram:.0%}"
    waits = memory_stall_share({"stalls": getattr(result, "stalls", None), "cores": result.cores,
                                "total_cycles": result.total_cycles})
    if waits is not None:
        text += f", array waiting on memory {waits:.0%}"
    return text + ")"


def memory_stall_share(summary: Mapping[str, Any]) -> float | None:
    """Array cycles stalled on SPM space or loads over cores x run time, or None without stall data."""
    totals = stall_totals(summary)
    cycles = float(summary.get("total_cycles", 0.0)) * int(summary.get("cores", 1))
    if not totals or cycles <= 0:
        return None
    return sum(value for reason, value in totals.items() if reason.startswith(MEMORY_STALLS)) / cycles


def _ratio(result: RunResult, reference: RunResult, backward: bool = False) -> float:
    if backward:
        return result.passes["backward"].total_cycles / reference.passes["backward"].total_cycles
    return result.total_cycles / reference.total_cycles


def _change(ratio: float) -> str:
    return f"{1 - ratio:.1%} faster" if ratio <= 1 else f"{ratio - 1:.1%} slower"


def baseline_lines(results: list[RunResult]) -> list[str]:
    """One line per order that is not the baseline (time ratio, speedup, the tuned baseline, the backward
    half, dY bytes, bound), plus the baseline's own bound when it ran beside other orders. The baseline
    is the fixed sequential run, or the first order when that did not run."""
    if len(results) < 2 or any(r.total_cycles <= 0 for r in results):
        return []
    baseline = next((r for r in results if is_fixed_baseline(r)),
                    next((r for r in results if r.order == "sequential"), results[0]))
    tuned = next((r for r in results if is_tuned_baseline(r) and r is not baseline), None)
    training = all(r.passes for r in results)
    first = f"{baseline.order} (baseline): {bound_phrase(baseline)}; dY reads "
    lines = [first + f"{dy_read_bytes(baseline) / MB:.2f} MB"]
    for result in results:
        if result is baseline:
            continue
        ratio = _ratio(result, baseline)
        head = f"{result.order} / {baseline.order} time: {ratio:.3f} (speedup {1 / ratio:.3f}x, "
        parts = [head + f"{_change(ratio)})"]
        if tuned is not None and result is not tuned:
            parts.append(f"/ {tuned.order} {_ratio(result, tuned):.3f} ({_change(_ratio(result, tuned))})")
        if training:
            backward = f"backward alone {_ratio(result, baseline, backward=True):.3f}"
            if tuned is not None and result is not tuned:
                backward += f" / {_ratio(result, tuned, backward=True):.3f}"
            parts.append(backward)
        before, after = dy_read_bytes(baseline), dy_read_bytes(result)
        share = abs(before - after) / before if before else 0.0
        saved = (f"saves {(before - after) / MB:.2f} MB" if after <= before
                 else f"{(after - before) / MB:.2f} MB more")
        parts.append(f"dY reads {before / MB:.2f} MB -> {after / MB:.2f} MB ({saved}, {share:.1%})")
        parts.append(bound_phrase(result))
        lines.append("; ".join(parts))
    return lines
