"""MICRO'23's evaluation reproduced: its two NPUs, its nine models, forward + backward time.

For every model (Table 4) on the small NPU (micro23_small) and the large NPU (micro23_large, one core),
the paper's steps -- baseline (sequential, fixed), +Interleaving (interleaved), +Rearrangement
(rearranged: Algorithm 1), per-layer best of the three access orders (rearranged-best), +Data
partitioning (partitioned: rearranged with each layer's scheme chosen by simulation; also by the KNN,
partition predict) -- as forward + backward and backward-only time and DRAM bytes, normalised to the
fixed (paper-style) and to the tuned sequential baseline, per model and as the arithmetic mean (as the
paper averages). Then the trends on the large NPU: 1/2/4/8 cores (Fig. 14), 150/75/37.5 GB/s per core
(Fig. 15), batch 8/16/32 (Fig. 16); the dY share of the baseline's backward traffic (Fig. 5); the "dY
fetched once" potential (Fig. 6, oracle dw_dy_free); the element size at 1/2/4 bytes (small NPU); and
SCALE-Sim's memory model for the baseline (NCF, DLRM, BERT, ResNet-50 unless --models names others).
Every table prints the paper's number for the same cell beside ours.

Forward + backward time is the forward run plus the backward run of the same model, hardware and batch:
exactly what `npu-des run --pass training` reports (tests/sim/test_training.py checks the identity), but
the forward pass, the same for every order, is simulated once per configuration instead of once per order.

    python experiments/micro23.py [--quick] [--parts main,cores,...] [--models res,ncf,...] [--resume]

Writes results/micro23/: micro23.csv (one row per NPU x scenario x model x configuration), means.csv,
dy_share.csv, diagnosis.csv, PNG + SVG figures, and the raw sweep tables (sweeps/*, resumable).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _micro23_paper as paper
import pandas
from _common import console, finish, parse_args, plt, save_figure, sweep
from rich.table import Table

from npu_des.config import RunOptions

NAME = "micro23"
NPUS = {"small": "micro23_small", "large": "micro23_large"}
MODELS = {"small": paper.SMALL_MODELS, "large": paper.LARGE_MODELS}
STEPS = ("sequential", "sequential-tuned", "interleaved", "rearranged", "rearranged-best", "partitioned")
TREND_ORDERS = ("sequential", "sequential-tuned", "partitioned")
SHOWN = ("interleaved", "rearranged", "rearranged-best", "partitioned", "partitioned-knn", "sequential-tuned",
         "dw_dy_free")
PARTS = ("main", "cores", "bandwidth", "batch", "element", "scalesim")
QUICK = {"small": ("ncf", "dlrm", "bert", "res"), "large": ("goo", "ncf", "dlrm", "res")}
# Each trend: its swept key, the values the main sweep already covers, and the others.
TRENDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "cores": ("large", "cores.count", "1", ("2", "4", "8")),
    "bandwidth": ("large", "dram.bandwidth_gbps", "150", ("75", "37.5")),
    "batch": ("large", "run.batch", "8", ("16", "32")),
    "element": ("small", "bytes_per_element", "2", ("1", "4")),
}
QUICK_TRENDS = {"cores": ("2",), "bandwidth": ("75",), "batch": ("16",), "element": ("1",)}
QUICK_TREND_MODELS = ("ncf", "dlrm", "res")
# SCALE-Sim's memory model streams whole im2col operand matrices through numpy: ResNet-50 at batch 8 on
# the large NPU takes ~100 s per pass, Faster R-CNN or YOLOv5l far longer; --models names others.
SCALESIM_MODELS = ("ncf", "dlrm", "bert", "res")
QUICK_SCALESIM_MODELS = ("ncf", "dlrm")
PAPER_TRENDS = {"cores": paper.FIG14, "bandwidth": paper.FIG15, "batch": paper.FIG16}
MAX_TASKS = "run.max_tasks=4000000"  # Faster R-CNN on the small NPU plans 2.2 M tile tasks (default 2 M)
COLUMNS = ("total_cycles", "total_dram_bytes", "read_dY", "read_bytes", "write_bytes", "compute_cycles",
           "lower_bound_cycles", "cores")


@dataclass(frozen=True)
class Group:
    """One set of runs normalised together: an NPU at one trend value (`main` is the nominal point)."""

    npu: str
    trend: str
    value: str


def main() -> None:
    args = parse_args(NAME, __doc__.splitlines()[0], extra=add_arguments)
    parts = [part.strip() for part in args.parts.split(",")]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"micro23.py: error: --parts: unknown {', '.join(unknown)} "
                         f"(allowed: {', '.join(PARTS)})")
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if set(parts) - {"scalesim"}:  # SCALE-Sim's baseline alone needs none of the normalised runs
        table = normalise(collect_runs(args, parts))
        written += [args.out / "micro23.csv", args.out / "means.csv"]
        table.to_csv(written[0], index=False)
        mean_table(table).to_csv(written[1], index=False)
    if "main" in parts:
        for npu in NPUS:
            print_main(table, npu)
        written += dy_share(table, args.out)
        written += diagnosis(table, args.out)
        written += plot_main(table, args.out)
    for trend in ("cores", "bandwidth", "batch", "element"):
        if trend in parts:
            print_trend(table, trend)
    if any(trend in parts for trend in PAPER_TRENDS):
        written += plot_trends(table, args.out)
    if "scalesim" in parts:
        written += scalesim(args)
    if args.quick:
        console.print("note: --quick runs a subset of the models; means (ours and the paper's) are over that "
                      "subset only")
    finish(args, written)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    parser.add_argument("--models", help="comma list of Table 4 abbreviations (default: all nine; "
                        f"{', '.join(paper.ABBREVIATIONS)})")


def selected(args: argparse.Namespace, npu: str, trend: bool = False,
             default: Sequence[str] = paper.ABBREVIATIONS) -> dict[str, str]:
    """Abbreviation -> zoo model of the NPU, as --models or --quick narrow them."""
    wanted: Sequence[str] = default
    if args.models:
        wanted = [name.strip() for name in args.models.split(",")]
        unknown = sorted(set(wanted) - set(paper.ABBREVIATIONS))
        if unknown:
            raise SystemExit(f"micro23.py: error: --models: unknown {', '.join(unknown)} "
                             f"(allowed: {', '.join(paper.ABBREVIATIONS)})")
    elif args.quick:
        wanted = QUICK_TREND_MODELS if trend else QUICK[npu]
        wanted = [abbr for abbr in wanted if abbr in default]
    return {abbr: MODELS[npu][abbr] for abbr in paper.ABBREVIATIONS if abbr in wanted}


def collect_runs(args: argparse.Namespace, parts: list[str]) -> pandas.DataFrame:
    """Every run the parts need, one row per group x model x configuration, forward and backward merged."""
    frames = [group_runs(args, npu, "main", selected(args, npu), [], STEPS, extras=True) for npu in NPUS
              if "main" in parts or any(TRENDS[t][0] == npu for t in parts if t in TRENDS)]
    for trend in parts:
        if trend not in TRENDS:
            continue
        npu, key, _, values = TRENDS[trend]
        values = QUICK_TRENDS[trend] if args.quick and not args.models else values
        models = selected(args, npu, trend=True)
        frames.append(group_runs(args, npu, trend, models, [f"{key}={','.join(values)}"], TREND_ORDERS,
                                 key=key))
    return pandas.concat(frames, ignore_index=True)


def group_runs(args: argparse.Namespace, npu: str, trend: str, models: dict[str, str], sets: list[str],
               orders: Sequence[str], extras: bool = False, key: str | None = None) -> pandas.DataFrame:
    """The backward runs of `orders`, the forward run, and (main) the KNN and the Fig. 6 oracle."""
    hardware = [NPUS[npu]]
    names = list(models.values())
    sets = [*sets, MAX_TASKS] if "faster_rcnn" in names and npu == "small" else sets
    label = f"{npu}_{trend}"
    parts = [("", sweep(args, f"{label}_backward", names, hardware, orders, sets))]
    parts.append(("forward", sweep(args, f"{label}_forward", names, hardware, ["sequential"],
                                   [*sets, "run.pass=forward"])))
    if extras:
        parts.append(("partitioned-knn", sweep(args, f"{label}_knn", names, hardware, ["rearranged"],
                                               [*sets, "run.partition=predict"])))
        parts.append(("dw_dy_free", sweep(args, f"{label}_oracle", names, hardware, ["sequential"], sets,
                                          variants=("dw_dy_free",))))
    rows = []
    abbreviation = {model: abbr for abbr, model in models.items()}
    for config, frame in parts:
        for _, row in frame.iterrows():
            rows.append({"npu": npu, "trend": trend, "value": _value(str(row[key])) if key else "",
                         "model": row["model"], "abbr": abbreviation[row["model"]],
                         "config": config or row["order"], **{c: row[c] for c in COLUMNS},
                         **{c: row[c] for c in row.index if str(c).startswith("stall_")}})
    return pandas.DataFrame(rows)


def _value(text: str) -> str:
    """Swept values as one spelling: 75.0 and 75 are the same bandwidth."""
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:g}"


def normalise(runs: pandas.DataFrame) -> pandas.DataFrame:
    """Per group and model: forward + backward and backward time, and bytes, over both baselines.

    The main rows are copied into every trend of their NPU at the trend's nominal value, so each trend
    table has its nominal point without simulating it twice."""
    main = runs[runs.trend == "main"]
    copies = []
    for trend, (npu, _, nominal, _) in TRENDS.items():
        models = set(runs[runs.trend == trend].model)  # the trend's models only: each value has the same
        nominal_rows = main[(main.npu == npu) & main.model.isin(models)]
        copies.append(nominal_rows.assign(trend=trend, value=_value(nominal)))
    runs = pandas.concat([runs, *copies], ignore_index=True)
    forward = runs[runs.config == "forward"].set_index(["npu", "trend", "value", "model"])
    backward = runs[runs.config != "forward"].copy()
    index = pandas.MultiIndex.from_frame(backward[["npu", "trend", "value", "model"]])
    backward["fwd_cycles"] = forward["total_cycles"].reindex(index).to_numpy()
    backward["fwd_bytes"] = forward["total_dram_bytes"].reindex(index).to_numpy()
    backward = backward.rename(columns={"total_cycles": "bwd_cycles", "total_dram_bytes": "bwd_bytes"})
    backward["fb_cycles"] = backward["fwd_cycles"] + backward["bwd_cycles"]
    backward["fb_bytes"] = backward["fwd_bytes"] + backward["bwd_bytes"]
    keys = ["npu", "trend", "value", "model"]
    for baseline, suffix in (("sequential", "fixed"), ("sequential-tuned", "tuned")):
        reference = backward[backward.config == baseline].set_index(keys)
        position = pandas.MultiIndex.from_frame(backward[keys])
        for column in ("fb_cycles", "bwd_cycles", "fb_bytes", "bwd_bytes"):
            base = reference[column].reindex(position).to_numpy()
            backward[f"{column.split('_')[0]}_{column.split('_')[1]}_vs_{suffix}"] = backward[column] / base
    backward["paper"] = [paper_value(row) for _, row in backward.iterrows()]
    return backward.reset_index(drop=True)


def paper_value(row: Any) -> float | None:
    """The paper's normalised forward + backward time for the same cell, if it published one."""
    if row.trend == "main":
        if row.config in paper.FIG12[row.npu]:
            return paper.FIG12[row.npu][row.config][row.abbr]
        if row.config == "dw_dy_free":
            return paper.FIG6[row.npu][row.abbr]
        return None
    if row.trend in PAPER_TRENDS and row.config == "partitioned":
        figure = PAPER_TRENDS[row.trend]
        return figure[type(next(iter(figure)))(float(row.value))].get(row.abbr)
    return None


def mean_table(table: pandas.DataFrame) -> pandas.DataFrame:
    """Arithmetic means over the models of each group and configuration (ours, and the paper's over the same
    models where it published every one of them)."""
    columns = [c for c in table.columns if "_vs_" in c]
    grouped = table.groupby(["npu", "trend", "value", "config"], sort=False)
    means = grouped[columns].mean()
    means["models"] = grouped["model"].count()
    means["paper"] = grouped["paper"].apply(lambda s: s.mean() if s.notna().all() else None)
    return means.reset_index()


def cell(ours: float, theirs: float | None) -> str:
    return f"{ours:.3f}" + (f" ({theirs:.3f})" if theirs is not None and theirs == theirs else "")


def print_main(table: pandas.DataFrame, npu: str) -> None:
    part = table[(table.npu == npu) & (table.trend == "main")]
    if part.empty:
        return
    abbrs = [a for a in paper.ABBREVIATIONS if a in set(part.abbr)]
    for metric, title in (("fb_cycles_vs_fixed", "forward+backward time / fixed baseline (paper)"),
                          ("fb_cycles_vs_tuned", "forward+backward time / tuned baseline (paper: its own)"),
                          ("bwd_cycles_vs_fixed", "backward time / fixed baseline"),
                          ("fb_bytes_vs_fixed", "forward+backward DRAM bytes / fixed baseline"),
                          ("bwd_bytes_vs_fixed", "backward DRAM bytes / fixed baseline")):
        grid = Table(title=f"{npu} NPU ({NPUS[npu]}), {title}", title_justify="left")
        grid.add_column("config", no_wrap=True)
        for abbr in [*abbrs, "mean"]:
            grid.add_column(abbr, justify="right")
        with_paper = metric.startswith("fb_cycles")
        for config in SHOWN:
            rows = part[part.config == config].set_index("abbr")
            if rows.empty:
                continue
            cells = [cell(rows.loc[a, metric], rows.loc[a, "paper"] if with_paper else None)
                     if a in rows.index else "" for a in abbrs]
            theirs = paper_mean(npu, config, abbrs) if with_paper else None
            cells.append(cell(rows[metric].mean(), theirs))
            grid.add_row(config, *cells)
        console.print(grid)
    base = part[part.config == "sequential"].set_index("abbr")
    console.print(f"{npu} NPU baseline (sequential, fixed): " + "; ".join(
        f"{a} {base.loc[a, 'fb_cycles'] / 1e6:.2f} Mcyc f+b ({base.loc[a, 'fwd_cycles'] / 1e6:.2f} fwd)"
        for a in abbrs if a in base.index))


def paper_mean(npu: str, config: str, abbrs: list[str]) -> float | None:
    if config in paper.FIG12[npu]:
        return sum(paper.FIG12[npu][config][a] for a in abbrs) / len(abbrs)
    if config == "dw_dy_free":
        return sum(paper.FIG6[npu][a] for a in abbrs) / len(abbrs)
    if config == "rearranged-best" and len(abbrs) == len(paper.ABBREVIATIONS):
        return paper.BEST_OF_THREE_MEAN[npu]
    return None


def print_trend(table: pandas.DataFrame, trend: str) -> None:
    npu, key, _, _ = TRENDS[trend]
    part = table[(table.npu == npu) & (table.trend == trend)]
    if part.empty:
        return
    values = sorted(set(part.value), key=float)
    abbrs = [a for a in paper.ABBREVIATIONS if a in set(part.abbr)]
    for metric, title in (("fb_cycles_vs_fixed", "all techniques (partitioned) / fixed baseline (paper)"),
                          ("fb_cycles_vs_tuned", "all techniques (partitioned) / tuned baseline")):
        grid = Table(title=f"{npu} NPU at {key} = {', '.join(values)}: forward+backward time, {title}",
                     title_justify="left")
        grid.add_column(key)
        for abbr in [*abbrs, "mean"]:
            grid.add_column(abbr, justify="right")
        for value in values:
            rows = part[(part.value == value) & (part.config == "partitioned")].set_index("abbr")
            with_paper = metric.endswith("fixed")
            cells = [cell(rows.loc[a, metric], rows.loc[a, "paper"] if with_paper else None)
                     if a in rows.index else "" for a in abbrs]
            figure = PAPER_TRENDS.get(trend)
            theirs = None
            if with_paper and figure is not None:
                published = figure[type(next(iter(figure)))(float(value))]
                theirs = sum(published[a] for a in abbrs) / len(abbrs)
            cells.append(cell(rows[metric].mean(), theirs))
            grid.add_row(value, *cells)
        console.print(grid)


def dy_share(table: pandas.DataFrame, out: Path) -> list[Path]:
    """Fig. 5: the baseline's dY share of backward DRAM traffic (reads + writes, and reads), both NPUs."""
    base = table[(table.trend == "main") & (table.config == "sequential")].copy()
    base["dY_share_of_traffic"] = base["read_dY"] / base["bwd_bytes"]
    base["dY_share_of_reads"] = base["read_dY"] / base["read_bytes"]
    grid = Table(title="dY share of the baseline's backward DRAM traffic, ours (paper, large NPU)",
                 title_justify="left")
    columns = [a for a in paper.ABBREVIATIONS if a in set(base.abbr)]
    for column in ("npu", "share", *columns, "mean"):
        grid.add_column(column, justify="right")
    for npu in NPUS:
        rows = base[base.npu == npu].set_index("abbr")
        if rows.empty:
            continue
        abbrs = [a for a in columns if a in rows.index]
        for column, figure in (("dY_share_of_traffic", "reads+writes"), ("dY_share_of_reads", "reads")):
            theirs = paper.FIG5[figure] if npu == "large" else None
            cells = [f"{rows.loc[a, column]:.1%}" + (f" ({theirs[a]:.1%})" if theirs else "")
                     if a in rows.index else "" for a in columns]
            mean = f"{rows[column].mean():.1%}"
            if theirs:
                mean += f" ({sum(theirs[a] for a in abbrs) / len(abbrs):.1%})"
            grid.add_row(npu, figure, *cells, mean)
    console.print(grid)
    path = out / "dy_share.csv"
    base[["npu", "abbr", "model", "read_dY", "read_bytes", "bwd_bytes", "dY_share_of_traffic",
          "dY_share_of_reads"]].to_csv(path, index=False)
    return [path]


def diagnosis(table: pandas.DataFrame, out: Path) -> list[Path]:
    """What bounds the baseline: array busy share, DRAM busy share, distance from the lower bound, the
    stalls (when the simulator attributes them) and the oracle's ceiling, per model and NPU."""
    base = table[(table.trend == "main") & (table.config == "sequential")].copy()
    if base.empty:
        return []
    base = base.sort_values(by=["npu", "abbr"], key=lambda column: column.map(
        {name: rank for rank, name in enumerate([*NPUS, *paper.ABBREVIATIONS])}))
    oracle = table[(table.trend == "main") & (table.config == "dw_dy_free")].set_index(["npu", "model"])
    bandwidth = {npu: _bytes_per_cycle(NPUS[npu]) for npu in NPUS}
    base["array_busy"] = base["compute_cycles"] / (base["cores"] * base["bwd_cycles"])
    base["dram_busy"] = base["bwd_bytes"] / (base["npu"].map(bandwidth) * base["bwd_cycles"])
    base["over_lower_bound"] = base["bwd_cycles"] / base["lower_bound_cycles"]
    base["oracle_fb"] = oracle["fb_cycles_vs_fixed"].reindex(
        pandas.MultiIndex.from_frame(base[["npu", "model"]])).to_numpy()
    stalls = [c for c in base.columns if c.startswith("stall_") and c != "stall_compute_cycles"
              and base[c].notna().any()]  # computing is the array-busy column
    for column in stalls:
        base[column.replace("_cycles", "_share")] = base[column] / (base["cores"] * base["bwd_cycles"])
    grid = Table(title="Why: the fixed baseline's backward pass (array and DRAM busy shares, time over the "
                 "lower bound) and the Fig. 6 oracle's forward+backward ceiling", title_justify="left")
    shares = [c.replace("_cycles", "_share") for c in stalls]
    reasons = [c.removeprefix("stall_").removesuffix("_cycles").replace("_", " ") for c in stalls]
    for column in ("npu", "model", "array busy", "DRAM busy", "time / lower bound", "oracle f+b"):
        grid.add_column(column, justify="right")
    for reason in reasons:  # the array's waits, as shares of the backward time
        grid.add_column(f"wait: {reason}", justify="right")
    for _, row in base.iterrows():
        grid.add_row(row.npu, row.abbr, f"{row.array_busy:.1%}", f"{row.dram_busy:.1%}",
                     f"{row.over_lower_bound:.3f}", f"{row.oracle_fb:.3f}",
                     *(f"{row[c]:.1%}" for c in shares))
    console.print(grid)
    path = out / "diagnosis.csv"
    base[["npu", "abbr", "model", "bwd_cycles", "compute_cycles", "lower_bound_cycles", "array_busy",
          "dram_busy", "over_lower_bound", "oracle_fb", *stalls, *shares]].to_csv(path, index=False)
    return [path]


def _bytes_per_cycle(preset: str) -> float:
    from npu_des.config import load_hardware

    return load_hardware(preset).dram_bytes_per_cycle


def plot_main(table: pandas.DataFrame, out: Path) -> list[Path]:
    """Fig. 12 beside ours: per model the three cumulative steps, ours as bars, the paper's as dots."""
    figure, axes = plt.subplots(2, 1, figsize=(11, 7), sharey=True)
    configs = ("interleaved", "rearranged", "partitioned")
    for axis, npu in zip(axes, NPUS):
        part = table[(table.npu == npu) & (table.trend == "main")]
        abbrs = [a for a in paper.ABBREVIATIONS if a in set(part.abbr)]
        for offset, config in enumerate(configs):
            rows = part[part.config == config].set_index("abbr")
            xs = [i + (offset - 1) * 0.27 for i in range(len(abbrs) + 1)]
            ours = [rows.loc[a, "fb_cycles_vs_fixed"] for a in abbrs] + [rows["fb_cycles_vs_fixed"].mean()]
            theirs = [paper.FIG12[npu][config][a] for a in abbrs] + [paper_mean(npu, config, abbrs)]
            axis.bar(xs, ours, width=0.25, label=f"{config} (npu-des)")
            axis.plot(xs, theirs, "k_", markersize=14, markeredgewidth=2,
                      label="MICRO'23 (Fig. 12)" if offset == 0 else None)
        axis.set_xticks(range(len(abbrs) + 1), [*abbrs, "mean"])
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.set_ylim(0.5, 1.1)
        axis.set_ylabel("fwd+bwd time / baseline")
        axis.set_title(f"{npu} NPU ({NPUS[npu]})")
    axes[0].legend(ncol=4, fontsize=8)
    return save_figure(figure, out / "fig12_steps")


def plot_trends(table: pandas.DataFrame, out: Path) -> list[Path]:
    """Figs. 14-16 beside ours: the mean normalised time of all techniques along each trend."""
    trends = [t for t in PAPER_TRENDS if (table.trend == t).any()]
    figure, axes = plt.subplots(1, len(trends), figsize=(4 * len(trends), 3.5), squeeze=False)
    for axis, trend in zip(axes[0], trends):
        npu, key, _, _ = TRENDS[trend]
        part = table[(table.npu == npu) & (table.trend == trend) & (table.config == "partitioned")]
        values = sorted(set(part.value), key=float)
        abbrs = sorted(set(part.abbr))
        figure_values = PAPER_TRENDS[trend]
        kind = type(next(iter(figure_values)))
        for metric, label in (("fb_cycles_vs_fixed", "npu-des / fixed"),
                              ("fb_cycles_vs_tuned", "npu-des / tuned")):
            means = [part[part.value == v][metric].mean() for v in values]
            axis.plot([float(v) for v in values], means, "o-", label=label)
        axis.plot([float(v) for v in values],
                  [sum(figure_values[kind(float(v))][a] for a in abbrs) / len(abbrs) for v in values], "ks--",
                  label="MICRO'23")
        axis.set_xlabel(key)
        axis.set_ylabel("mean fwd+bwd time / baseline")
        axis.set_ylim(0.5, 1.05)
        axis.legend(fontsize=8)
    return save_figure(figure, out / "fig14_16_trends")


def scalesim(args: argparse.Namespace) -> list[Path]:
    """The baseline under SCALE-Sim's memory model (sequential backward and forward only: it refuses the
    interleaved orders), beside npu-des's own, when this simulator has `run.memory_model`."""
    if "memory_model" not in RunOptions.model_fields:
        console.print("note: run.memory_model is not in this simulator yet; SCALE-Sim's baseline is skipped")
        return []
    rows = []
    for npu in NPUS:
        models = selected(args, npu, default=QUICK_SCALESIM_MODELS if args.quick else SCALESIM_MODELS)
        for model_label, sets in (("npu-des", []), ("scalesim", ["run.memory_model=scalesim"])):
            names, hardware = list(models.values()), [NPUS[npu]]
            backward = sweep(args, f"{npu}_scalesim_{model_label}_backward", names, hardware, ["sequential"],
                             sets)
            forward = sweep(args, f"{npu}_scalesim_{model_label}_forward", names, hardware, ["sequential"],
                            [*sets, "run.pass=forward"])
            for _, row in backward.iterrows():
                match = forward[forward.model == row.model]
                rows.append({"npu": npu, "memory_model": model_label, "model": row.model,
                             "bwd_cycles": row.total_cycles, "bwd_compute_cycles": row.compute_cycles,
                             "fwd_cycles": match.total_cycles.iloc[0] if len(match) else None,
                             "fwd_compute_cycles": match.compute_cycles.iloc[0] if len(match) else None,
                             "bwd_bytes": row.total_dram_bytes})
    frame = pandas.DataFrame(rows)
    if frame.empty:
        return []
    frame["fb_over_compute"] = (frame.fwd_cycles + frame.bwd_cycles) / (
        frame.fwd_compute_cycles + frame.bwd_compute_cycles)
    grid = Table(title="Baseline (sequential, fixed) forward+backward time over its compute cycles, "
                 "npu-des's memory model vs SCALE-Sim's", title_justify="left")
    for column in ("npu", "model", "npu-des", "scalesim"):
        grid.add_column(column, justify="right")
    for (npu, model), group in frame.groupby(["npu", "model"], sort=False):
        values = dict(zip(group.memory_model, group.fb_over_compute))
        grid.add_row(npu, model,
                     *(f"{values[m]:.3f}" if m in values else "" for m in ("npu-des", "scalesim")))
    console.print(grid)
    path = args.out / "scalesim.csv"
    frame.to_csv(path, index=False)
    return [path]


if __name__ == "__main__":
    main()
