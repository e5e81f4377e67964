"""Sparse weight gradients (SWG, Sci. China Inf. Sci. 2024): backward time vs the density of X and dY.

X (after ReLU) and dY are sparse; `run.density` sets the fraction of nonzeros of both, on every layer
(the network input stays dense). Four machines per density:
  dense                       neither zero skipping nor compression: density changes nothing
  sparse compute              cores.array.zero_skipping: dW tiles stream ceil(T * d_X * d_dY) pairs
  sparse compute + bitmap     ... and X/dY tiles move as nonzeros + 1 bit per element
  sparse compute + csr        ... and X/dY tiles move as nonzeros + 2-byte index each + 4-byte row pointers
Prints backward time, array busy cycles and DRAM bytes normalized to dense, writes a CSV and a line plot.

    python experiments/sparse_gradients.py [--model resnet50] [--hw edge_dual] [--order interleaved] \
        [--jobs N] [--quick]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import pandas
from rich.console import Console
from rich.table import Table

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim.driver import simulate

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DENSITIES = (1.0, 0.8, 0.6, 0.4, 0.2)
QUICK_DENSITIES = (1.0, 0.4)  # --quick: the dense point and one sparse one
VARIANTS = {
    "dense": (False, "none"),
    "sparse compute": (True, "none"),
    "sparse compute + bitmap": (True, "bitmap"),
    "sparse compute + csr": (True, "csr"),
}


def point(model: str, hardware: str, order: str, variant: str, density: float) -> dict[str, object]:
    zero_skipping, compression = VARIANTS[variant]
    hw = load_hardware(hardware, [f"cores.array.zero_skipping={str(zero_skipping).lower()}"])
    result = simulate(
        build_model(model), hw, run_options(order=order, density=density, compression=compression)
    )
    return {
        "model": model,
        "hw": hardware,
        "order": order,
        "variant": variant,
        "density": density,
        "cycles": result.total_cycles,
        "seconds": result.seconds,
        "compute_cycles": result.compute_cycles,
        "dram_bytes": result.total_dram_bytes,
        "read_X": result.dram_bytes["read"]["X"],
        "read_dY": result.dram_bytes["read"]["dY"],
        "lower_bound_cycles": result.lower_bound_cycles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--hw", default="edge_dual")
    parser.add_argument("--order", default="interleaved", choices=("sequential", "interleaved"))
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/sparse_gradients"))
    parser.add_argument("--quick", action="store_true", help=f"densities {QUICK_DENSITIES} only")
    args = parser.parse_args()
    started = time.perf_counter()
    densities = QUICK_DENSITIES if args.quick else DENSITIES
    jobs = [
        (args.model, args.hw, args.order, variant, density) for variant in VARIANTS for density in densities
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        frame = pandas.DataFrame(list(pool.map(point, *zip(*jobs))))
    dense = frame[frame.variant == "dense"].set_index("density")
    for column in ("cycles", "compute_cycles", "dram_bytes"):
        frame[f"{column}_vs_dense"] = [
            getattr(r, column) / dense.loc[r.density, column] for r in frame.itertuples()
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "sparse_gradients.csv", index=False)

    console = Console(width=150)
    table = Table(
        title=f"{args.model} on {args.hw} ({args.order}): backward time / array busy / DRAM bytes, "
        "relative to the dense machine",
        title_justify="left",
    )
    table.add_column("density", justify="right")
    for variant in VARIANTS:
        table.add_column(variant, justify="right")
    for density in densities:
        cells = []
        for variant in VARIANTS:
            r = frame[(frame.variant == variant) & (frame.density == density)].iloc[0]
            cells.append(
                f"{r.cycles / 1e6:.2f}M  {r.cycles_vs_dense:.3f} / {r.compute_cycles_vs_dense:.3f} / "
                f"{r.dram_bytes_vs_dense:.3f}"
            )
        table.add_row(f"{density:g}", *cells)
    console.print(table)

    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for axis, (column, label) in zip(
        axes,
        (
            ("seconds", "backward time (ms)"),
            ("compute_cycles", "array busy (Mcycles)"),
            ("dram_bytes", "DRAM traffic (MB)"),
        ),
    ):
        scale = 1e3 if column == "seconds" else 1e-6
        for variant in VARIANTS:
            part = frame[frame.variant == variant].sort_values("density")
            axis.plot(part.density, part[column] * scale, marker="o", label=variant)
        axis.set_xlabel("density of X and dY")
        axis.set_ylabel(label)
        axis.invert_xaxis()
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{args.model} on {args.hw}, {args.order} order: sparse weight gradients")
    figure.tight_layout()
    for suffix in ("png", "svg"):
        figure.savefig(args.out / f"sparse_gradients.{suffix}")
    console.print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
