"""Pin or fuse (CGO'23): forward feature-map DRAM bytes and latency, layer by layer vs fused groups.

Forward pass (`run.pass=forward`) of MobileNet-v1, MobileNet-v2 and ResNet-50 on edge_dual and
ethos_n77: `neither` (every feature map written and read back) and `fuse` (run.fuse=auto: greedy
conv chains of up to 3 layers whose one-row step fits half the SPM, halo rows recomputed).
Feature-map bytes are X reads + Y writes. Pinning feature maps and the pin/fuse planner are not
built yet, so those columns of CGO'23's comparison are absent. Writes results/pin_or_fuse/.
"""

from __future__ import annotations

import pandas
from _common import available, finish, parse_args, plt, print_table, save_figure

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim import simulate

VARIANTS = {"neither": (), "fuse": ("auto",)}


def main() -> None:
    args = parse_args("pin_or_fuse", __doc__.splitlines()[0])
    models = available(("mobilenet_v2",) if args.quick else ("mobilenet_v1", "mobilenet_v2", "resnet50"))
    hardware = ("edge_dual",) if args.quick else ("edge_dual", "ethos_n77")
    rows = []
    for hw_name in hardware:
        hw = load_hardware(hw_name)
        for model in models:
            workload = build_model(model)
            for variant, fuse in VARIANTS.items():
                result = simulate(workload, hw, run_options(pass_="forward", fuse=fuse))
                fused = sum(1 for choice in result.choices.values() if "fused_group" in choice)
                rows.append({"hw": hw_name, "model": model, "variant": variant, "fused_layers": fused,
                             "fm_MB": (result.dram_bytes["read"]["X"] + result.dram_bytes["write"]["Y"]) / 1e6,
                             "W_MB": result.dram_bytes["read"]["W"] / 1e6, "cycles": result.total_cycles,
                             "macs": result.macs})
    frame = pandas.DataFrame(rows)
    base = frame[frame["variant"] == "neither"].set_index(["hw", "model"])
    frame["fm_vs_neither"] = [row.fm_MB / base.loc[(row.hw, row.model), "fm_MB"] for row in frame.itertuples()]
    frame["time_vs_neither"] = [row.cycles / base.loc[(row.hw, row.model), "cycles"] for row in frame.itertuples()]
    frame["extra_macs"] = [row.macs / base.loc[(row.hw, row.model), "macs"] - 1 for row in frame.itertuples()]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "pin_or_fuse.csv"
    frame.to_csv(path, index=False)
    print_table("Forward pass: feature-map DRAM bytes and time, fused vs layer by layer (CGO'23: ~0.5x / ~0.85x)",
                frame[["hw", "model", "variant", "fused_layers", "fm_MB", "W_MB", "fm_vs_neither",
                       "time_vs_neither", "extra_macs"]],
                {"fm_MB": ".2f", "W_MB": ".2f", "fm_vs_neither": ".3f", "time_vs_neither": ".3f",
                 "extra_macs": ".1%"})
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    labels = [f"{row.model}\n{row.hw}" for row in frame[frame["variant"] == "fuse"].itertuples()]
    fused = frame[frame["variant"] == "fuse"]
    for axis, column, title in ((axes[0], "fm_vs_neither", "feature-map DRAM bytes"),
                                (axes[1], "time_vs_neither", "latency")):
        axis.bar(range(len(fused)), fused[column])
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks(range(len(fused)), labels, fontsize=7)
        axis.set_title(f"fuse / neither: {title}")
    finish(args, [path, *save_figure(figure, args.out / "pin_or_fuse")])


if __name__ == "__main__":
    main()
