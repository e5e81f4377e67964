"""Gradient-interleaved systolic scheduler (Unnikrishnan & Parhi, arXiv:2002.05529): dX on a WS array,
dW on an OS array, interleaved on one configurable array, against arrays fixed to OS or WS.

Four configurations per model and NPU, all with stationary reuse on (a tile whose stationary operand
the PEs still hold skips its R-cycle fill) and `--reconfiguration-cycles` per dataflow switch:
  fixed OS              cores.array.dataflow=os, sequential order
  fixed WS              cores.array.dataflow=ws, sequential order
  per-op                {dX: ws, dW: os}, sequential order
  per-op + interleaved  {dX: ws, dW: os}, the fused order (loop order `--loop-order`, default auto)
Reports backward cycles, DRAM bytes, SPM tile references and the array's SPM element accesses
(SCALE-Sim operand counts), with the paper's 1.4-2.2x fewer cycles and 1.9x fewer memory accesses
beside them. Array counters come from replaying each core's tasks (systolic_array.replay), which
equals what the simulated arrays counted.

    python experiments/gradient_interleaved_dataflow.py [--quick] [--jobs N] [--reconfiguration-cycles 16]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import numpy
import pandas
from rich.console import Console
from rich.table import Table

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.sim.components.systolic_array import replay
from npu_des.sim.driver import simulate

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PER_OP = "{dX: ws, dW: os}"
CONFIGS = {
    "fixed OS": ("os", {"order": "sequential"}),
    "fixed WS": ("ws", {"order": "sequential"}),
    "per-op": (PER_OP, {"order": "sequential"}),
    "per-op + interleaved": (PER_OP, {"order": "fused"}),
}
MODELS = ("resnet50", "mobilenet_v1", "googlenet")
HARDWARE = ("edge_dual", "ethos_n77")
PAPER_CYCLES = (1.4, 2.2)
PAPER_ACCESSES = 1.9


def point(
    model: str, hardware: str, config: str, reconfiguration_cycles: int, loop_order: str
) -> dict[str, object]:
    """One simulation, plus the array counters of the same schedule."""
    dataflow, fields = CONFIGS[config]
    hw = load_hardware(
        hardware,
        [
            f"cores.array.dataflow={dataflow}",
            "cores.array.stationary_reuse=true",
            f"cores.array.reconfiguration_cycles={reconfiguration_cycles}",
        ],
    )
    options = run_options(**fields, loop_order=loop_order if fields["order"] == "fused" else None)
    workload = build_model(model)
    result = simulate(workload, hw, options)
    schedule, _ = plan(workload, hw, options)
    arrays = [array.statistics() for array in replay(schedule.tasks, hw.cores.count, hw.cores.array)]
    counters = {key: sum(stats[key] for stats in arrays) for key in arrays[0]}
    assert counters["busy_cycles"] == result.compute_cycles  # replay equals the simulated arrays
    return {
        "model": model,
        "hw": hardware,
        "config": config,
        "cycles": result.total_cycles,
        "compute_cycles": result.compute_cycles,
        "dram_bytes": result.total_dram_bytes,
        "spm_tile_refs": result.spm_hits + result.spm_misses,
        "array_spm_accesses": counters["spm_element_accesses"],
        "reconfigurations": counters["reconfigurations"],
        "stationary_reuses": counters["stationary_reuses"],
        "reuse_saved_cycles": counters["reuse_saved_cycles"],
    }


def geomean(values: pandas.Series) -> float:
    return float(numpy.exp(numpy.log(values.astype(float)).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="mobilenet_v1 on edge_dual only")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--reconfiguration-cycles", type=int, default=16)
    parser.add_argument("--loop-order", default="auto", help="interleaved tile loop order (default auto)")
    parser.add_argument("--out", type=Path, default=Path("results/gradient_interleaved_dataflow"))
    args = parser.parse_args()
    started = time.perf_counter()
    models = MODELS[1:2] if args.quick else MODELS
    hardware = HARDWARE[:1] if args.quick else HARDWARE
    jobs = [
        (m, h, c, args.reconfiguration_cycles, args.loop_order)
        for m in models
        for h in hardware
        for c in CONFIGS
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(point, *zip(*jobs)))
    frame = pandas.DataFrame(rows)
    for base in ("fixed OS", "fixed WS"):
        reference = frame[frame.config == base].set_index(["model", "hw"])
        suffix = base.split()[1]
        for column in ("cycles", "dram_bytes", "array_spm_accesses"):
            frame[f"{column}_x_vs_{suffix}"] = [
                reference.loc[(r.model, r.hw), column] / getattr(r, column) for r in frame.itertuples()
            ]
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "gradient_interleaved_dataflow.csv", index=False)

    console = Console(width=170)
    for hw in hardware:
        table = Table(
            title=f"{hw}: backward pass, {args.reconfiguration_cycles} cycles per reconfiguration "
            "(x = fewer than fixed OS / fixed WS)",
            title_justify="left",
        )
        for column in (
            "model",
            "config",
            "Mcycles",
            "x cycles",
            "DRAM MB",
            "x DRAM",
            "array SPM Macc",
            "x SPM acc",
            "SPM tile refs",
            "reconfig",
            "reuses",
        ):
            table.add_column(column, justify="left" if column in ("model", "config") else "right")
        part = frame[frame.hw == hw]
        for r in part.itertuples():
            table.add_row(
                r.model,
                r.config,
                f"{r.cycles / 1e6:.2f}",
                f"{r.cycles_x_vs_OS:.2f} / {r.cycles_x_vs_WS:.2f}",
                f"{r.dram_bytes / 1e6:.1f}",
                f"{r.dram_bytes_x_vs_OS:.2f} / {r.dram_bytes_x_vs_WS:.2f}",
                f"{r.array_spm_accesses / 1e6:.1f}",
                f"{r.array_spm_accesses_x_vs_OS:.2f} / {r.array_spm_accesses_x_vs_WS:.2f}",
                str(r.spm_tile_refs),
                str(r.reconfigurations),
                str(r.stationary_reuses),
            )
        for config in CONFIGS:
            sel = part[part.config == config]
            table.add_row(
                "geomean",
                config,
                "",
                f"{geomean(sel.cycles_x_vs_OS):.2f} / {geomean(sel.cycles_x_vs_WS):.2f}",
                "",
                f"{geomean(sel.dram_bytes_x_vs_OS):.2f} / {geomean(sel.dram_bytes_x_vs_WS):.2f}",
                "",
                f"{geomean(sel.array_spm_accesses_x_vs_OS):.2f} / "
                f"{geomean(sel.array_spm_accesses_x_vs_WS):.2f}",
                "",
                "",
                "",
            )
        console.print(table)
    console.print(
        f"paper: {PAPER_CYCLES[0]}-{PAPER_CYCLES[1]}x fewer cycles, {PAPER_ACCESSES}x fewer memory accesses "
        "(per-op + interleaved vs a fixed-dataflow array)"
    )

    figure, axes = plt.subplots(2, len(hardware), figsize=(6.5 * len(hardware), 7), squeeze=False)
    for column, hw in enumerate(hardware):
        part = frame[frame.hw == hw]
        for row, (metric, label) in enumerate((("cycles", "backward cycles"), ("dram_bytes", "DRAM bytes"))):
            pivot = part.assign(value=1 / part[f"{metric}_x_vs_OS"]).pivot(
                index="model", columns="config", values="value"
            )
            pivot[list(CONFIGS)].plot.bar(ax=axes[row][column], rot=0)
            axes[row][column].axhline(1.0, color="black", linewidth=0.8)
            if metric == "cycles":
                for bound in PAPER_CYCLES:
                    axes[row][column].axhline(1 / bound, color="red", linestyle="--", linewidth=0.8)
            axes[row][column].set_title(
                f"{hw}: {label} / fixed OS (red: paper's 1/1.4, 1/2.2)"
                if metric == "cycles"
                else f"{hw}: {label} / fixed OS"
            )
            axes[row][column].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    for suffix in ("png", "svg"):
        figure.savefig(args.out / f"gradient_interleaved_dataflow.{suffix}")
    console.print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
