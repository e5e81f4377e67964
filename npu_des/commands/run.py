"""`npu-des run`: simulate a model's backward pass on a hardware preset, in one or both orders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from npu_des.commands.plot import render
from npu_des.config import ORDERS, load_hardware, run_options
from npu_des.errors import ConfigError
from npu_des.metrics import RunResult
from npu_des.models import build_model, model_names
from npu_des.report.tables import print_summary, write_run
from npu_des.sim import simulate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="simulate a backward pass (default: ResNet-50 on edge_dual, both orders)")
    parser.add_argument("--model", default="resnet50", help=f"model name ({', '.join(model_names())})")
    parser.add_argument("--hw", default="edge_dual", help="hardware preset name or YAML file")
    parser.add_argument("--order", default="both", help="sequential, interleaved, or both (default)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 1)")
    parser.add_argument("--out", type=Path, help="write summary.json, layers.csv, timeline.csv, spm.csv here")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hardware field (dram.bandwidth_gbps=22) or run option (run.prefetch_depth=2)")
    parser.add_argument("--tile", help="force tile sizes M,N,K (elements)")
    parser.add_argument("--pin", action="append", default=[], metavar="LAYER:KIND", help="pin a tensor in the SPM")
    parser.add_argument("--loop-order", help="interleaved tile loop order, a permutation of mnk (default mnk)")
    parser.add_argument("--json", action="store_true", help="print summaries as JSON instead of a table")
    parser.add_argument("--plot", action="store_true", help="also draw Gantt and per-layer charts into --out DIR")
    parser.add_argument("--trace", action="store_true", help="also write Chrome trace JSON (Perfetto) into --out DIR")
    parser.set_defaults(func=run_command)


def parse_tile(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"'{text}' is not three positive integers M,N,K", field="--tile")
    return dict(zip("mnk", (int(p) for p in parts)))


def selected_orders(text: str) -> list[str]:
    if text == "both":
        return list(ORDERS)
    orders = [part.strip() for part in text.split(",")]
    for order in orders:
        if order not in ORDERS:
            raise ConfigError(f"unknown order '{order}'", field="--order", allowed=", ".join((*ORDERS, "both")))
    return orders


def run_command(args: argparse.Namespace) -> int:
    if (args.plot or args.trace) and not args.out:
        raise ConfigError("needs --out DIR to write into", field="--plot" if args.plot else "--trace")
    orders = selected_orders(args.order)
    hardware = load_hardware(args.hw, args.set)
    base = {"batch": args.batch, "tile": parse_tile(args.tile), "pins": tuple(args.pin) or None, "loop_order": args.loop_order}
    options = [run_options(args.set, order=order, **base) for order in orders]
    workload = build_model(args.model, batch=options[0].batch)
    results: list[RunResult] = [simulate(workload, hardware, option) for option in options]
    if args.out:
        for result in results:
            write_run(result, args.out / result.order if len(results) > 1 else args.out)
        if len(results) > 1:
            (args.out / "comparison.json").write_text(json.dumps(
                {r.order: r.summary() for r in results}, indent=2, sort_keys=True) + "\n")
        if args.plot or args.trace:
            render(args.out, charts=args.plot, trace=args.trace)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2, sort_keys=True))
    else:
        console = Console()
        print_summary(results, console)
        if args.out:
            console.print(f"results written to {args.out}")
    return 0
