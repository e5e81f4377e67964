"""MICRO'23 techniques 1-3 step by step: sequential -> interleaved (technique 1) -> + tile loop order
selection (technique 2) -> + multi-core partitioning (technique 3), on dual-core edge and server NPUs.

Prints normalized backward time and DRAM traffic per model and their geometric mean, beside the
paper's 29.4% (edge) / 15.2% (server) reductions, and writes a CSV and a bar chart.

    python experiments/micro23_techniques.py [--quick] [--jobs N] [--out results/micro23_techniques]
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
from npu_des.models import build_model, model_names
from npu_des.sim.driver import simulate

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STEPS = {
    "sequential": {"order": "sequential"},
    "interleaved": {"order": "interleaved"},
    "+order": {"order": "interleaved", "loop_order": "auto"},
    "+partition": {"order": "interleaved", "loop_order": "auto", "partition": "auto"},
}
MODELS = ("resnet50", "mobilenet_v1", "googlenet", "bert_base")
HARDWARE = ("edge_dual", "server_dual")
MICRO23 = {"edge_dual": 0.294, "server_dual": 0.152}


def point(model: str, hardware: str, step: str) -> dict[str, object]:
    result = simulate(build_model(model), load_hardware(hardware), run_options(**STEPS[step]))
    return {"model": model, "hw": hardware, "step": step, "cycles": result.total_cycles,
            "dram_bytes": result.total_dram_bytes, "dY_reads": result.dram_bytes["read"]["dY"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ResNet-50 on edge_dual only")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/micro23_techniques"))
    args = parser.parse_args()
    started = time.perf_counter()
    models = [m for m in (MODELS[:1] if args.quick else MODELS) if m in model_names()]
    hardware = HARDWARE[:1] if args.quick else HARDWARE
    jobs = [(m, h, s) for m in models for h in hardware for s in STEPS]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(point, *zip(*jobs)))
    frame = pandas.DataFrame(rows)
    base = frame[frame.step == "sequential"].set_index(["model", "hw"])
    frame["norm_time"] = [r.cycles / base.loc[(r.model, r.hw), "cycles"] for r in frame.itertuples()]
    frame["norm_traffic"] = [
        r.dram_bytes / base.loc[(r.model, r.hw), "dram_bytes"] for r in frame.itertuples()
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "micro23_techniques.csv", index=False)

    console = Console(width=140)
    for hw in hardware:
        table = Table(title=f"{hw}: normalized backward time / DRAM traffic (sequential = 1)")
        table.add_column("model")
        for step in STEPS:
            table.add_column(step, justify="right")
        part = frame[frame.hw == hw]
        for model in [*models, "geomean"]:
            cells = []
            for step in STEPS:
                sel = (
                    part[part.step == step]
                    if model == "geomean"
                    else part[(part.step == step) & (part.model == model)]
                )
                time_ratio = float(numpy.exp(numpy.log(sel.norm_time).mean()))
                traffic_ratio = float(numpy.exp(numpy.log(sel.norm_traffic).mean()))
                cells.append(f"{time_ratio:.3f} / {traffic_ratio:.3f}")
            table.add_row(model, *cells)
        console.print(table)
        best = float(numpy.exp(numpy.log(part[part.step == "+partition"].norm_time).mean()))
        console.print(
            f"{hw}: all techniques reduce backward time by {1 - best:.1%} (geomean); "
            f"MICRO'23 reports {MICRO23[hw]:.1%}"
        )

    figure, axes = plt.subplots(1, len(hardware), figsize=(6 * len(hardware), 4), squeeze=False)
    for axis, hw in zip(axes[0], hardware):
        part = frame[frame.hw == hw].pivot(index="model", columns="step", values="norm_time")[list(STEPS)]
        part.plot.bar(ax=axis, rot=0)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.axhline(1 - MICRO23[hw], color="red", linestyle="--", linewidth=0.8, label="MICRO'23 (all)")
        axis.set_title(f"{hw}: backward time / sequential")
        axis.set_ylabel("normalized time")
        axis.legend(fontsize=7)
    figure.tight_layout()
    for suffix in ("png", "svg"):
        figure.savefig(args.out / f"micro23_techniques.{suffix}")
    console.print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
