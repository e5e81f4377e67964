"""The energy side of two seed papers, measured with npu-des's energy model (docs/energy.md).

1. Gradient-interleaved systolic scheduler (Unnikrishnan & Parhi, arXiv:2002.05529): dX on a WS array and
   dW on an OS array, interleaved on one configurable array, claims 1.9x fewer memory accesses than a
   fixed-dataflow array ("energy-efficient backpropagation"). Four arrays per model and NPU, as in
   experiments/gradient_interleaved_dataflow.py (stationary reuse on, 16 cycles per reconfiguration):
   fixed OS, fixed WS, per-op {dX: ws, dW: os} (sequential) and per-op + interleaved (loop order auto).
   Measured: SPM bytes (array operands + DMA fills/stores), DRAM bytes, their sum, energy, pJ/MAC.
2. SWG (Wu et al., Sci. China Inf. Sci. 2024, doi:10.1007/s11432-022-3807-9): exploiting the sparsity of
   X and dY in the weight gradient raises energy efficiency from 7.56 to 10.58 TOPS/W (1.40x). ResNet-50 on
   edge_dual, interleaved, dense against zero skipping (dW) + bitmap-compressed X/dY at each density.

Every number printed is measured now; the explanations below the tables are computed from the same runs.

    python experiments/energy_papers.py [--quick] [--jobs N] [--out results/energy_papers]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas
from rich.console import Console
from rich.table import Table

from npu_des.analysis.explain import explain
from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim.driver import simulate

PER_OP = "{dX: ws, dW: os}"
ARRAYS = {
    "fixed OS": ("os", "sequential"),
    "fixed WS": ("ws", "sequential"),
    "per-op": (PER_OP, "sequential"),
    "per-op + interleaved": (PER_OP, "interleaved"),
}
MODELS = ("resnet50", "mobilenet_v1", "googlenet")
HARDWARE = ("edge_dual", "ethos_n77")
DENSITIES = (1.0, 0.8, 0.6, 0.4, 0.2)
PAPER_ACCESSES = 1.9
PAPER_SWG = (7.56, 10.58)


def measure(
    model: str, hardware: str, overrides: tuple[str, ...], options: dict[str, object]
) -> dict[str, float]:
    """One simulation with its energy; the counts every table below is built from."""
    hw = load_hardware(hardware, list(overrides))
    option = run_options(**options)
    workload = build_model(model)
    result = explain(simulate(workload, hw, option), workload, hw, option)
    energy = result.analyses["energy"]
    spm = sum(c["spm_read_bytes"] + c["spm_write_bytes"] for c in result.layer_analyses.values())
    parts = energy["components_pj"]
    return {
        "cycles": result.total_cycles,
        "dram_bytes": result.total_dram_bytes,
        "spm_bytes": spm,
        "accesses_bytes": spm + result.total_dram_bytes,
        "energy_mj": energy["total_pj"] / 1e9,
        **{f"{part}_mj": value / 1e9 for part, value in parts.items()},
        "pj_per_mac": energy["pj_per_mac"],
        "tops_per_watt": energy["tops_per_watt"],
        "macs": energy["macs"],
        "executed_macs": energy["executed_macs"],
    }


def interleaved_point(model: str, hardware: str, array: str) -> dict[str, object]:
    dataflow, order = ARRAYS[array]
    overrides = (
        f"cores.array.dataflow={dataflow}",
        "cores.array.stationary_reuse=true",
        "cores.array.reconfiguration_cycles=16",
    )
    options = {"order": order, "loop_order": "auto" if order == "interleaved" else None}
    return {"model": model, "hw": hardware, "array": array, **measure(model, hardware, overrides, options)}


def swg_point(model: str, hardware: str, sparse: bool, density: float) -> dict[str, object]:
    overrides = ("cores.array.zero_skipping=true",) if sparse else ()
    options = {"order": "interleaved", "density": density, "compression": "bitmap" if sparse else "none"}
    return {
        "model": model,
        "hw": hardware,
        "skipping": sparse,
        "density": density,
        **measure(model, hardware, overrides, options),
    }


def interleaved_table(frame: pandas.DataFrame, console: Console) -> None:
    table = Table(
        title="Gradient-interleaved scheduler: fixed array / per-op + interleaved (x fewer)",
        title_justify="left",
    )
    for column in (
        "NPU",
        "model",
        "vs",
        "SPM+DRAM bytes",
        "SPM bytes",
        "DRAM bytes",
        "energy",
        "pJ/MAC best",
    ):
        table.add_column(column, justify="left" if column in ("NPU", "model", "vs") else "right")
    for (hw, model), part in frame.groupby(["hw", "model"], sort=False):
        best = part[part.array == "per-op + interleaved"].iloc[0]
        for base in ("fixed OS", "fixed WS"):
            ref = part[part.array == base].iloc[0]
            table.add_row(
                hw,
                model,
                base,
                f"{ref.accesses_bytes / best.accesses_bytes:.2f}",
                f"{ref.spm_bytes / best.spm_bytes:.2f}",
                f"{ref.dram_bytes / best.dram_bytes:.2f}",
                f"{ref.energy_mj / best.energy_mj:.2f}",
                f"{best.pj_per_mac:.2f}",
            )
    console.print(table)
    console.print(
        f"paper: {PAPER_ACCESSES}x fewer memory accesses (per-op + interleaved vs a fixed dataflow)"
    )
    best = frame[frame.array == "per-op + interleaved"]
    fixed = frame[frame.array == "fixed OS"].set_index(["hw", "model"])
    dram_share = (best.dram_mj / best.energy_mj).mean()
    spm_cut = [fixed.loc[(r.hw, r.model), "spm_bytes"] / r.spm_bytes for r in best.itertuples()]
    console.print(
        f"why less: DRAM is {dram_share:.0%} of the per-op + interleaved energy (mean), and the dataflow "
        "changes what the array streams from the SPM, not which tiles cross DRAM; the array's SPM bytes "
        f"fall only {min(spm_cut):.2f}-{max(spm_cut):.2f}x against fixed OS because every tile here is many "
        "folds deep, so the one reused fold (stationary reuse) is a small part of its traffic."
    )


def swg_table(frame: pandas.DataFrame, console: Console) -> None:
    dense = frame[~frame.skipping].set_index("density")
    table = Table(
        title="SWG: ResNet-50 on edge_dual, interleaved, dense vs zero skipping + bitmap X/dY",
        title_justify="left",
    )
    for column in (
        "density",
        "dense TOPS/W",
        "sparse TOPS/W",
        "gain",
        "executed MACs",
        "MAC share (dense)",
        "DRAM bytes",
        "energy",
    ):
        table.add_column(column, justify="right")
    for r in frame[frame.skipping].sort_values("density", ascending=False).itertuples():
        d = dense.loc[1.0]  # the dense machine: density changes nothing on it
        table.add_row(
            f"{r.density:g}",
            f"{d.tops_per_watt:.3f}",
            f"{r.tops_per_watt:.3f}",
            f"{r.tops_per_watt / d.tops_per_watt:.2f}x",
            f"{r.executed_macs / r.macs:.2f}",
            f"{d.mac_mj / d.energy_mj:.0%}",
            f"{r.dram_bytes / d.dram_bytes:.2f}",
            f"{r.energy_mj / d.energy_mj:.2f}",
        )
    console.print(table)
    console.print(f"paper: {PAPER_SWG[0]} -> {PAPER_SWG[1]} TOPS/W ({PAPER_SWG[1] / PAPER_SWG[0]:.2f}x)")
    sparse = frame[frame.skipping].sort_values("density")
    lowest = sparse.iloc[0]
    d = dense.loc[1.0]
    skipped = 1 - lowest.executed_macs / lowest.macs
    mac_share = d.mac_mj / d.energy_mj
    saved = {part: d[f"{part}_mj"] - lowest[f"{part}_mj"] for part in ("mac", "spm", "dram", "leakage")}
    shares = ", ".join(f"{part} {value / sum(saved.values()):.0%}" for part, value in saved.items())
    claim = PAPER_SWG[1] / PAPER_SWG[0]
    gains = [(r.density, r.tops_per_watt / d.tops_per_watt) for r in sparse.itertuples()]
    reached = [density for density, gain in gains if gain >= claim]
    where = (
        f"the paper's {claim:.2f}x is reached at density {max(reached):g} (of those measured)"
        if reached
        else f"the paper's {claim:.2f}x is not reached down to density {lowest.density:g}"
    )
    console.print(
        f"{where}. At density {lowest.density:g} zero skipping removes {skipped:.0%} of the executed MACs "
        f"(only dW skips; dX stays dense) and MACs are {mac_share:.0%} of the dense energy, so compute alone "
        f"gives at most {1 / (1 - mac_share * skipped):.2f}x; of the energy saved: {shares} (bitmap X/dY "
        f"cut DRAM bytes to {lowest.dram_bytes / d.dram_bytes:.2f}x, shorter streams cut SPM reads). SWG's "
        "figure is for its weight-gradient engine alone (no dense dX, not the backward pass's DRAM traffic), "
        "at its own node and densities; ours is the whole backward pass at 45 nm with DRAM included."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one model per paper, two densities (< 1 minute)"
    )
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/energy_papers"))
    args = parser.parse_args()
    started = time.perf_counter()
    models = ("mobilenet_v1",) if args.quick else MODELS
    hardware = ("edge_dual",) if args.quick else HARDWARE
    densities = (1.0, 0.4) if args.quick else DENSITIES
    with ProcessPoolExecutor(args.jobs) as pool:
        first = [(m, h, a) for h in hardware for m in models for a in ARRAYS]
        second = [("resnet50", "edge_dual", s, d) for s in (False, True) for d in densities if s or d == 1.0]
        interleaved = pandas.DataFrame(list(pool.map(interleaved_point, *zip(*first))))
        swg = pandas.DataFrame(list(pool.map(swg_point, *zip(*second))))
    args.out.mkdir(parents=True, exist_ok=True)
    interleaved.to_csv(args.out / "gradient_interleaved_energy.csv", index=False)
    swg.to_csv(args.out / "swg_energy.csv", index=False)
    console = Console(width=150)
    interleaved_table(interleaved, console)
    swg_table(swg, console)
    console.print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
