"""Experiment 1: how much of the backward pass's DRAM traffic is dY, on an Ethos-N77-like NPU (OS and WS).

The replication study reports that dY is ~39% (OS) / ~27% (WS) of backward DRAM reads on average
over ResNet-50, GoogLeNet, MobileNet-v1 and Faster R-CNN, in sequential order. We measure the same
share (and the share of reads + writes) in the simulator, per model and averaged over models.

    python experiments/dy_share.py [--quick]
"""

from __future__ import annotations

import numpy
from _common import (
    REPLICATION_MODELS,
    available,
    console,
    finish,
    parse_args,
    plt,
    print_table,
    save_figure,
    sweep,
)

NAME = "dy_share"
REFERENCE = {"os": 0.39, "ws": 0.27}  # replication study: average dY share of backward DRAM reads
DATAFLOW = "cores.array.dataflow"


def main() -> None:
    args = parse_args(NAME, __doc__.splitlines()[0])
    models = available(("resnet50", "mobilenet_v1") if args.quick else REPLICATION_MODELS)
    frame = sweep(args, NAME, models, ["ethos_n77"], ["sequential"], [f"{DATAFLOW}=os,ws"])
    frame["dY_share_of_reads"] = frame["read_dY"] / frame["read_bytes"]
    frame["dY_share_of_traffic"] = frame["read_dY"] / frame["total_dram_bytes"]
    frame["dY_reads_per_tile"] = frame["read_dY"] / frame["compulsory_dY"]
    table = frame[
        [
            "model",
            DATAFLOW,
            "read_bytes",
            "read_dY",
            "total_dram_bytes",
            "dY_share_of_reads",
            "dY_share_of_traffic",
            "dY_reads_per_tile",
            "seconds",
        ]
    ].rename(columns={DATAFLOW: "dataflow"})
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / f"{NAME}.csv"
    table.to_csv(csv, index=False)

    shown = table.assign(
        read_MB=table["read_bytes"] / 1e6, dY_read_MB=table["read_dY"] / 1e6, ms=table["seconds"] * 1e3
    )
    print_table(
        "dY share of backward DRAM traffic, ethos_n77 (22 GB/s), sequential order",
        shown[
            [
                "model",
                "dataflow",
                "read_MB",
                "dY_read_MB",
                "dY_share_of_reads",
                "dY_share_of_traffic",
                "dY_reads_per_tile",
                "ms",
            ]
        ],
        {
            "read_MB": ".2f",
            "dY_read_MB": ".2f",
            "dY_share_of_reads": ".1%",
            "dY_share_of_traffic": ".1%",
            "dY_reads_per_tile": ".2f",
            "ms": ".3f",
        },
    )
    average = table.groupby("dataflow")[["dY_share_of_reads", "dY_share_of_traffic"]].mean()
    for dataflow, row in average.iterrows():
        console.print(
            f"{str(dataflow).upper()}: mean dY share over {len(models)} models = "
            f"{row['dY_share_of_reads']:.1%} of reads, {row['dY_share_of_traffic']:.1%} of reads+writes "
            f"(replication study: ~{REFERENCE[str(dataflow)]:.0%} of reads)"
        )
    if args.quick:
        console.print(
            "(--quick: a model subset, so the averages are not comparable with the study's 4-model mean)"
        )

    figure, axes = plt.subplots(figsize=(7, 4))
    positions = numpy.arange(len(models))
    for offset, dataflow in ((-0.2, "os"), (0.2, "ws")):
        shares = [
            table[(table["model"] == m) & (table["dataflow"] == dataflow)]["dY_share_of_reads"].iloc[0]
            for m in models
        ]
        bars = axes.bar(
            positions + offset, [100 * s for s in shares], 0.4, label=f"{dataflow.upper()} (simulated)"
        )
        axes.axhline(
            100 * REFERENCE[dataflow],
            color=bars.patches[0].get_facecolor(),
            linestyle="--",
            label=f"{dataflow.upper()} replication study mean",
        )
    axes.set_xticks(positions, models)
    axes.set_ylabel("dY share of backward DRAM reads (%)")
    axes.set_title("dY share of DRAM reads, ethos_n77, sequential order")
    axes.legend(fontsize="small")
    finish(args, [csv, *save_figure(figure, args.out / NAME)])


if __name__ == "__main__":
    main()
