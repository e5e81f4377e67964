"""Pin or fuse (CGO'23): forward feature-map DRAM bytes and latency, and backward dY pins.

Forward pass (`run.pass=forward`) of MobileNet-v1, MobileNet-v2 and ResNet-50 on edge_dual and
ethos_n77, four schedules: `neither` (every feature map written and read back), `fuse`
(run.fuse=auto: greedy conv chains), `pin` (run.pin_plan=optimal: feature maps kept in the SPM from
producer to consumer, chosen by the exact DP) and `pin+fuse` (the DP decides pin / fuse / spill per
link). Feature-map bytes are X reads + Y writes. Backward: sequential and interleaved orders, each
without and with the dY-pin planner (run.pin_plan=optimal, weighed by a measured unpinned run).
Writes results/pin_or_fuse/.
"""

from __future__ import annotations

import pandas
from _common import available, finish, parse_args, plt, print_table, save_figure

from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim.driver import simulate

FORWARD = {"neither": {}, "fuse": {"fuse": ("auto",)}, "pin": {"pin_plan": "optimal"},
           "pin+fuse": {"pin_plan": "optimal", "fuse": ("auto",)}}
BACKWARD = {"sequential": {"order": "sequential"}, "interleaved": {"order": "interleaved"},
            "sequential+dY pins": {"order": "sequential", "pin_plan": "optimal"},
            "interleaved+dY pins": {"order": "interleaved", "pin_plan": "optimal"}}


def _ratios(frame: pandas.DataFrame, base_variant: str, columns: dict[str, str]) -> None:
    base = frame[frame["variant"] == base_variant].set_index(["hw", "model"])
    for column, source in columns.items():
        frame[column] = [
            getattr(row, source) / base.loc[(row.hw, row.model), source] for row in frame.itertuples()
        ]


def main() -> None:
    args = parse_args("pin_or_fuse", __doc__.splitlines()[0])
    models = available(("mobilenet_v2",) if args.quick else ("mobilenet_v1", "mobilenet_v2", "resnet50"))
    hardware = ("edge_dual",) if args.quick else ("edge_dual", "ethos_n77")
    forward, backward = [], []
    for hw_name in hardware:
        hw = load_hardware(hw_name)
        for model in models:
            workload = build_model(model)
            for variant, fields in FORWARD.items():
                result = simulate(workload, hw, run_options(pass_="forward", **fields))
                forward.append(
                    {
                        "hw": hw_name,
                        "model": model,
                        "variant": variant,
                        "pinned": sum("pinned" in c for c in result.choices.values()),
                        "fused": sum("fused_group" in c for c in result.choices.values()),
                        "fm_MB": (result.dram_bytes["read"]["X"] + result.dram_bytes["write"]["Y"]) / 1e6,
                        "W_MB": result.dram_bytes["read"]["W"] / 1e6,
                        "cycles": result.total_cycles,
                        "macs": result.macs,
                    }
                )
            for variant, fields in BACKWARD.items():
                result = simulate(workload, hw, run_options(**fields))
                backward.append(
                    {
                        "hw": hw_name,
                        "model": model,
                        "variant": variant,
                        "pinned": sum("pinned" in c for c in result.choices.values()),
                        "dY_MB": result.dram_bytes["read"]["dY"] / 1e6,
                        "dram_MB": result.total_dram_bytes / 1e6,
                        "cycles": result.total_cycles,
                    }
                )
    fwd, bwd = pandas.DataFrame(forward), pandas.DataFrame(backward)
    _ratios(
        fwd, "neither", {"fm_vs_neither": "fm_MB", "time_vs_neither": "cycles", "macs_vs_neither": "macs"}
    )
    _ratios(bwd, "sequential", {"dram_vs_seq": "dram_MB", "time_vs_seq": "cycles"})
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [args.out / "pin_or_fuse.csv", args.out / "pin_or_fuse_backward.csv"]
    fwd.to_csv(paths[0], index=False)
    bwd.to_csv(paths[1], index=False)
    print_table(
        "Forward: feature-map DRAM bytes and time vs layer by layer (CGO'23 pin+fuse: ~0.5x / ~0.85x)",
        fwd[
            [
                "hw",
                "model",
                "variant",
                "pinned",
                "fused",
                "fm_MB",
                "W_MB",
                "fm_vs_neither",
                "time_vs_neither",
                "macs_vs_neither",
            ]
        ],
        {
            "fm_MB": ".2f",
            "W_MB": ".2f",
            "fm_vs_neither": ".3f",
            "time_vs_neither": ".3f",
            "macs_vs_neither": ".3f",
        },
    )
    print_table(
        "Backward: dY pins (exact DP on measured re-reads) vs interleaving",
        bwd[["hw", "model", "variant", "pinned", "dY_MB", "dram_MB", "dram_vs_seq", "time_vs_seq"]],
        {"dY_MB": ".2f", "dram_MB": ".2f", "dram_vs_seq": ".3f", "time_vs_seq": ".3f"},
    )
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for axis, frame, column, title, variants in (
        (axes[0], fwd, "fm_vs_neither", "forward feature-map bytes / neither", list(FORWARD)[1:]),
        (axes[1], fwd, "time_vs_neither", "forward latency / neither", list(FORWARD)[1:]),
        (axes[2], bwd, "time_vs_seq", "backward time / sequential", list(BACKWARD)[1:]),
    ):
        keys = frame[frame["variant"] == variants[0]][["hw", "model"]].itertuples(index=False)
        labels = [f"{model}\n{hw}" for hw, model in keys]
        width = 0.8 / len(variants)
        for offset, variant in enumerate(variants):
            values = frame[frame["variant"] == variant][column]
            axis.bar([i + offset * width for i in range(len(values))], values, width, label=variant)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels, fontsize=6)
        axis.set_title(title, fontsize=9)
        axis.legend(fontsize=6)
    finish(args, [*paths, *save_figure(figure, args.out / "pin_or_fuse")])


if __name__ == "__main__":
    main()
