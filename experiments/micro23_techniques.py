"""MICRO'23's three techniques as the paper defines them, against both baselines, on two NPUs.

Per zoo model: backward time and DRAM bytes of every order (docs/orders.md) normalised to the fixed
and to the tuned sequential baseline, on edge_dual (batch 1, as `npu-des run`) and on the paper's small
NPU (1 core of 45x45 PEs at 1 GHz, 1 MB SPM, 22 GB/s, batch 4: until a `micro23_small` preset exists,
ethos_n77 with spm.capacity_kb=1024, which keeps ethos_n77's 1 byte per element). Models are the
paper's (Table 4) in their small variants: YOLOv2-tiny, BERT-tiny, T5-small; Faster R-CNN only with
`--with-faster-rcnn` (about 25 minutes more). Also prints Algorithm 1's and the partitioning's
choices per model, and the old "interleaved" (the fused mnk nest, now order `fused`) for comparison.

    python experiments/micro23_techniques.py [--quick] [--jobs N] [--with-faster-rcnn] [--out DIR]

Writes DIR/micro23_techniques.csv (one row per model x NPU x configuration). Times are backward-pass
cycles (the forward pass is not simulated here; the paper's Fig. 12 is forward + backward).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas
from rich.console import Console
from rich.table import Table

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim.driver import simulate

CONFIGS: dict[str, dict[str, Any]] = {
    "seq fixed": {"order": "sequential"},
    "seq tuned": {"order": "sequential", "baseline": "tuned"},
    "interleaved": {"order": "interleaved"},
    "rearranged": {"order": "rearranged"},
    "rearranged-best": {"order": "rearranged-best"},
    "+partition": {"order": "rearranged", "partition": "auto"},
    "+partition knn": {"order": "rearranged", "partition": "predict"},
    "+partition tile-deps": {"order": "rearranged", "partition": "auto", "dependencies": "tile"},
    "fused mnk (old)": {"order": "fused"},
    "interleaved-auto": {"order": "fused", "loop_order": "auto"},
    "oracle dW-dY free": {"order": "sequential", "dw_dy": "free"},
}
MODELS = ("resnet50", "googlenet", "mobilenet_v1", "ncf", "dlrm", "yolov2_tiny", "bert_tiny", "t5_small")
NPUS: dict[str, tuple[str, list[str], int]] = {
    "edge_dual": ("edge_dual", [], 1),
    "small NPU": ("ethos_n77", ["spm.capacity_kb=1024"], 4),
}


def point(model: str, npu: str, config: str) -> dict[str, Any]:
    preset, overrides, batch = NPUS[npu]
    options = run_options(batch=batch, **CONFIGS[config])
    result = simulate(build_model(model, batch=batch), load_hardware(preset, overrides), options)
    accesses = Counter(choice.get("access", "") for choice in result.choices.values())
    schemes = Counter(choice["partition"] for choice in result.choices.values()
                      if choice["partitions"] != "1")
    return {"model": model, "npu": npu, "config": config, "cycles": result.total_cycles,
            "seconds": result.seconds, "dram_bytes": result.total_dram_bytes,
            "dY_reads": result.dram_bytes["read"]["dY"],
            "psum_reads": result.dram_bytes["read"]["dX"] + result.dram_bytes["read"]["dW"],
            "layers": len(result.choices),
            "accesses": ";".join(f"{k}={v}" for k, v in sorted(accesses.items()) if k),
            "partitions": ";".join(f"{k}={v}" for k, v in sorted(schemes.items()))}


def table(frame: pandas.DataFrame, npu: str, models: list[str], console: Console) -> None:
    """Time and bytes per model and configuration, normalised to both baselines, and their mean."""
    part = frame[frame.npu == npu].set_index(["model", "config"])
    grid = Table(title=f"{npu}: backward time / seq fixed, time / seq tuned, DRAM bytes / seq fixed")
    grid.add_column("config")
    for model in [*models, "mean"]:
        grid.add_column(model, justify="right")
    for config in CONFIGS:
        cells = []
        ratios: list[tuple[float, float, float]] = []
        for model in models:
            row, fixed, tuned = (part.loc[(model, name)] for name in (config, "seq fixed", "seq tuned"))
            ratio = (row.cycles / fixed.cycles, row.cycles / tuned.cycles, row.dram_bytes / fixed.dram_bytes)
            ratios.append(ratio)
            cells.append("{:.3f} {:.3f} {:.3f}".format(*ratio))
        means = [sum(r[i] for r in ratios) / len(ratios) for i in range(3)]
        cells.append("{:.3f} {:.3f} {:.3f}".format(*means))
        grid.add_row(config, *cells)
    console.print(grid)
    absolute = Table(title=f"{npu}: seq fixed backward time (ms) and DRAM (MB)")
    for column in ("model", "ms", "MB", "seq tuned ms", "seq tuned MB"):
        absolute.add_column(column, justify="right")
    for model in models:
        fixed, tuned = part.loc[(model, "seq fixed")], part.loc[(model, "seq tuned")]
        absolute.add_row(model, f"{fixed.seconds * 1e3:.3f}", f"{fixed.dram_bytes / 1e6:.2f}",
                         f"{tuned.seconds * 1e3:.3f}", f"{tuned.dram_bytes / 1e6:.2f}")
    console.print(absolute)
    for model in models:
        rearranged = part.loc[(model, "rearranged")]
        best = part.loc[(model, "rearranged-best")]
        exact, knn = part.loc[(model, "+partition")], part.loc[(model, "+partition knn")]
        console.print(f"  {model}: Algorithm 1 {rearranged.accesses}; best by simulation {best.accesses}; "
                      f"partitions exact {exact.partitions or '-'}; knn {knn.partitions or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ResNet-50 and BERT-tiny only")
    parser.add_argument("--with-faster-rcnn", action="store_true", help="add Faster R-CNN (slow)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/micro23_techniques"))
    args = parser.parse_args()
    started = time.perf_counter()
    models = ["resnet50", "bert_tiny"] if args.quick else list(MODELS)
    if args.with_faster_rcnn and not args.quick:
        models.append("faster_rcnn")
    jobs = [(model, npu, config) for model in models for npu in NPUS for config in CONFIGS]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(point, *zip(*jobs)))
    frame = pandas.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "micro23_techniques.csv", index=False)
    console = Console(width=220)
    for npu in NPUS:
        table(frame, npu, models, console)
    console.print("MICRO'23 (fwd+bwd, its own simulator): small NPU interleaving 0.8 %, +rearrangement "
                  "23.8 %, +partitioning 29.3 %; per-layer best order 25.1 %; Fig. 6 ideal 1.70x")
    console.print(f"wrote {args.out / 'micro23_techniques.csv'} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
