"""Experiment 3: interleaved vs sequential gradient order across DRAM bandwidth.

* ethos_n77 (1 core) at 22, 11 and 6 GB/s, as in the replication study;
* edge_dual and server_dual over 16 bandwidths from 1/16x to 11.3x their nominal bandwidth (steps of
  sqrt 2, nominal included), beside MICRO'23's single-core reductions of 29.3% (small NPU) and 14.5%
  (large NPU), forward + backward (a loose comparison: these presets are dual-core, backward only).

Two interleaved configurations are measured against the sequential order (docs/orders.md):
  "interleaved"       technique 1 alone (the paper's Only Interleaving);
  "interleaved+auto"  techniques 1+2+3: order `rearranged` (Algorithm 1 per layer) with
                      `run.partition=auto` (per-layer data partitioning chosen by simulation).
Gain = sequential time / interleaved time - 1 (the CSV also has the time reduction 1 - ratio).

    python experiments/bandwidth.py [--quick] [--with-faster-rcnn]
"""

from __future__ import annotations

import matplotlib.ticker
import pandas
from _common import available, console, finish, parse_args, plt, print_table, save_figure, sweep

from npu_des.config import load_hardware
from npu_des.report.sweep_plots import paired_orders, plot_sweep

NAME = "bandwidth"
BANDWIDTH = "dram.bandwidth_gbps"
AUTO = ["run.partition=auto"]
MICRO23 = {"edge_dual": 0.293, "server_dual": 0.145}
ORDERS = ["sequential", "interleaved"]
KEY = ["model", "hw", BANDWIDTH]
FLOWS = {"dY reads": ["read_dY"], "X reads": ["read_X"], "W reads": ["read_W"],
         "dX partial sums": ["read_dX", "write_dX"], "dW partial sums": ["read_dW", "write_dW"],
         "total": ["total_dram_bytes"]}


def bandwidths(nominal: float, halvings: range) -> list[str]:
    """nominal x 2^(h/2) for h in `halvings`: geometric steps of sqrt(2) that include the nominal
    bandwidth."""
    return [f"{nominal * 2 ** (h / 2):.3g}" for h in halvings]


def measure(
    args: object, name: str, models: list[str], hw: str, values: list[str]
) -> tuple[pandas.DataFrame, ...]:
    """Sequential + technique-1 interleaved over `values`, and technique 1+2+3 interleaved over the same."""
    base = sweep(args, name, models, [hw], ORDERS, [f"{BANDWIDTH}={','.join(values)}"])
    auto = sweep(
        args, f"{name}_auto", models, [hw], ["rearranged"], [f"{BANDWIDTH}={','.join(values)}", *AUTO]
    )
    return base, auto


def pair(base: pandas.DataFrame, auto: pandas.DataFrame) -> pandas.DataFrame:
    """One row per (model, hw, bandwidth): the three times and the two gains over sequential."""
    pairs = paired_orders(base, [BANDWIDTH]).drop(columns=["variant", "ratio"])
    pairs = pairs.merge(auto[[*KEY, "seconds"]].rename(columns={"seconds": "interleaved_auto"}), on=KEY)
    for column, suffix in (("interleaved", ""), ("interleaved_auto", "_auto")):
        pairs[f"gain{suffix}"] = pairs["sequential"] / pairs[column] - 1
        pairs[f"time_reduction{suffix}"] = 1 - pairs[column] / pairs["sequential"]
    return pairs


def traffic_delta(sequential: pandas.DataFrame, interleaved: pandas.DataFrame) -> pandas.Series:
    """Mean over models of interleaved minus sequential DRAM bytes (MB) per flow the order changes."""
    left, right = sequential.set_index(KEY), interleaved.set_index(KEY)
    return pandas.Series(
        {name: sum((right[p] - left[p]).mean() for p in parts) / 1e6 for name, parts in FLOWS.items()}
    )


def explain(hw: str, base: pandas.DataFrame, auto: pandas.DataFrame, pairs: pandas.DataFrame) -> None:
    """Print the measured reasons for the gap to MICRO'23 at the preset's nominal bandwidth (means over
    models)."""
    sequential = base[base["order"] == "sequential"]
    console.print(
        f"[bold]{hw}[/] at nominal bandwidth: mean gain {pairs['gain'].mean():+.1%} (technique 1), "
        f"{pairs['gain_auto'].mean():+.1%} (techniques 1+2+3) vs MICRO'23 {MICRO23.get(hw, 0):+.1%}."
    )
    for label, interleaved in (
        ("technique 1", base[base["order"] == "interleaved"]),
        ("techniques 1+2+3", auto),
    ):
        delta = traffic_delta(sequential, interleaved)
        console.print(
            f"  DRAM MB, {label} minus sequential: " + ", ".join(f"{k} {v:+.2f}" for k, v in delta.items())
        )
    cores = [
        column for column in base.columns if column.startswith("core") and column.endswith("_utilisation")
    ]
    compute_share = (sequential["compute_cycles"] / sequential["cores"] / sequential["total_cycles"]).mean()
    dram_share = (
        sequential["total_dram_bytes"] / (sequential[BANDWIDTH] * 1e9) / sequential["seconds"]
    ).mean()
    utilisation = {
        label: frame[cores].mean(axis=1).mean()
        for label, frame in (
            ("sequential", sequential),
            ("technique 1", base[base["order"] == "interleaved"]),
            ("techniques 1+2+3", auto),
        )
    }
    console.print(
        f"  sequential spends {compute_share:.0%} of its time on the compute bound and would need "
        f"{dram_share:.0%} of it to move all its bytes at full bandwidth; mean array utilisation "
        + ", ".join(f"{k} {v:.0%}" for k, v in utilisation.items())
        + "."
    )
    delta = traffic_delta(sequential, base[base["order"] == "interleaved"])
    if abs(delta["dY reads"]) < 0.01:
        console.print(
            "  -> the SPM already keeps each dY tile between its dX and dW uses in sequential order, so "
            "there are no dY re-reads for interleaving to save; it can only lose array utilisation."
        )
    elif dram_share < 0.8:
        console.print(
            "  -> not memory-bound at this bandwidth: the dY bytes saved were overlapping compute anyway, "
            "so interleaving cannot shorten the run much; utilisation it loses shows as a slowdown."
        )
    if delta["total"] > 0:
        console.print(
            "  -> technique 1 moves more bytes in total: the dY reads it saves are outweighed by partial "
            "sums and operands that no longer stay resident under the fixed mnk loop order."
        )


def combined_figure(pairs: pandas.DataFrame, nominal: dict[str, float]) -> object:
    figure, all_axes = plt.subplots(1, len(nominal), figsize=(11, 4.5), sharey=True)
    for axes, hw in zip(all_axes, nominal):
        rows = pairs[pairs["hw"] == hw]
        for number, (model, group) in enumerate(rows.groupby("model")):
            group = group.sort_values(BANDWIDTH)
            x = group[BANDWIDTH] / nominal[hw]
            colour = f"C{number}"
            axes.plot(
                x,
                group["interleaved"] / group["sequential"],
                "--",
                color=colour,
                marker="o",
                markersize=3,
                label=f"{model}, technique 1",
            )
            axes.plot(
                x,
                group["interleaved_auto"] / group["sequential"],
                "-",
                color=colour,
                marker="s",
                markersize=3,
                label=f"{model}, techniques 1+2+3",
            )
        axes.axhline(1 / (1 + MICRO23[hw]), color="grey", linestyle=":", linewidth=1)
        axes.text(
            0.01,
            1 / (1 + MICRO23[hw]),
            f"MICRO'23 ({MICRO23[hw]:+.1%})",
            transform=axes.get_yaxis_transform(),
            fontsize="x-small",
            va="bottom",
        )
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_xscale("log", base=2)
        axes.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axes.set_xlabel(f"DRAM bandwidth / nominal ({nominal[hw]:g} GB/s)")
        axes.set_title(hw)
        axes.grid(True, alpha=0.3)
    all_axes[0].set_ylabel("interleaved / sequential time")
    all_axes[-1].legend(fontsize="x-small")
    figure.suptitle("Interleaved gradient order vs DRAM bandwidth")
    return figure


def main() -> None:
    args = parse_args(
        NAME, __doc__.splitlines()[0], {"--with-faster-rcnn": "also run faster_rcnn on edge/server"}
    )
    written = []
    ethos_models = available(
        ["resnet50"] if args.quick else ["resnet50", "googlenet", "mobilenet_v1", "faster_rcnn"]
    )
    ethos_base, ethos_auto = measure(args, "ethos_n77", ethos_models, "ethos_n77", ["22", "11", "6"])
    written += plot_sweep(ethos_base, [BANDWIDTH], args.out / "plots" / "ethos_n77")

    dual_models = ["mobilenet_v1"] if args.quick else ["resnet50", "googlenet", "mobilenet_v1"]
    if args.with_faster_rcnn:
        dual_models.append("faster_rcnn")
    elif not args.quick:
        console.print(
            "note: faster_rcnn is left out on the dual-core presets (tens of seconds per point on "
            "edge_dual); pass --with-faster-rcnn to include it"
        )
    dual_models = available(dual_models)
    nominal, dual = {}, {}
    for hw in MICRO23:
        nominal[hw] = load_hardware(hw).dram.bandwidth_gbps
        values = bandwidths(nominal[hw], range(-4, 3, 2) if args.quick else range(-8, 8))
        dual[hw] = measure(args, hw, dual_models, hw, values)
        written += plot_sweep(dual[hw][0], [BANDWIDTH], args.out / "plots" / hw)

    pairs = pandas.concat(
        [pair(*frames) for frames in ((ethos_base, ethos_auto), *dual.values())], ignore_index=True
    )
    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / f"{NAME}.csv"
    pairs.to_csv(csv, index=False)
    written.append(csv)

    ethos = pairs[pairs["hw"] == "ethos_n77"].sort_values(["model", BANDWIDTH], ascending=[True, False])
    print_table(
        "ethos_n77: interleaved vs sequential (ms; gain = sequential/interleaved - 1)",
        ethos.assign(
            sequential=ethos["sequential"] * 1e3,
            interleaved=ethos["interleaved"] * 1e3,
            interleaved_auto=ethos["interleaved_auto"] * 1e3,
        )[["model", BANDWIDTH, "sequential", "interleaved", "gain", "interleaved_auto", "gain_auto"]],
        {
            "sequential": ".3f",
            "interleaved": ".3f",
            "interleaved_auto": ".3f",
            "gain": "+.1%",
            "gain_auto": "+.1%",
        },
    )
    summary = []
    for hw in nominal:
        for model, group in pairs[pairs["hw"] == hw].groupby("model"):
            at_nominal = group.iloc[(group[BANDWIDTH] - nominal[hw]).abs().argmin()]
            best = group.loc[group["gain_auto"].idxmax()]
            summary.append(
                {
                    "hw": hw,
                    "model": model,
                    "GBps": at_nominal[BANDWIDTH],
                    "gain": at_nominal["gain"],
                    "gain_auto": at_nominal["gain_auto"],
                    "best_gain_auto": best["gain_auto"],
                    "best_at_GBps": best[BANDWIDTH],
                    "worst_gain_auto": group["gain_auto"].min(),
                    "MICRO23": MICRO23[hw],
                }
            )
    print_table(
        "dual-core presets at nominal bandwidth, and best/worst of techniques 1+2+3 over the sweep",
        pandas.DataFrame(summary),
        dict.fromkeys(("gain", "gain_auto", "best_gain_auto", "worst_gain_auto", "MICRO23"), "+.1%")
        | {"GBps": "g", "best_at_GBps": "g"},
    )
    for hw, (base, auto) in dual.items():
        closest = min(set(base[BANDWIDTH]), key=lambda value: abs(value - nominal[hw]))
        explain(
            hw,
            base[base[BANDWIDTH] == closest],
            auto[auto[BANDWIDTH] == closest],
            pairs[(pairs["hw"] == hw) & (pairs[BANDWIDTH] == closest)],
        )
    written += save_figure(combined_figure(pairs[pairs["hw"] != "ethos_n77"], nominal), args.out / NAME)
    finish(args, written)


if __name__ == "__main__":
    main()
