"""`npu-des bench`: how fast the simulator runs (ResNet-50 backward on server_dual and edge_dual, both
orders)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from npu_des.analysis.bench import (
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_ORDERS,
    TARGET_SECONDS,
    profile_case,
    run_bench,
)
from npu_des.errors import ConfigError
from npu_des.files import check_output_file, write_text_atomically


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="time the simulator: wall seconds, SimPy events/s, peak memory"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"zoo model (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--hw",
        default=",".join(DEFAULT_HARDWARE),
        help="comma list of presets (default server_dual,edge_dual)",
    )
    parser.add_argument("--order", default=",".join(DEFAULT_ORDERS), help="comma list (default both orders)")
    parser.add_argument("--repeats", default="3", help="timed runs per case; the best counts (default 3)")
    parser.add_argument("--out", type=Path, help="write the JSON record here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of timing, print a cProfile of the first case (top functions)",
    )
    parser.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    if not args.repeats.isdigit() or int(args.repeats) < 1:
        raise ConfigError(f"'{args.repeats}' is not a positive integer", field="--repeats")
    if args.out:
        check_output_file(args.out)
    hardware = tuple(part.strip() for part in args.hw.split(","))
    orders = tuple(part.strip() for part in args.order.split(","))
    if args.profile:
        print(profile_case(args.model, hardware[0], orders[0]))
        return 0
    record = run_bench(args.model, hardware, orders, int(args.repeats))
    table = Table(
        title=f"npu-des bench: {args.model} backward, best of {args.repeats} "
        f"(target < {TARGET_SECONDS:.0f} s per run)"
    )
    for column in ("hardware", "order", "wall s", "first s", "tasks", "SimPy events", "events/s", "peak MB"):
        table.add_column(column, justify="left" if column in ("hardware", "order") else "right")
    for run in record["runs"]:
        table.add_row(
            run["hardware"],
            run["order"],
            f"{run['wall_seconds']:.3f}",
            f"{run['first_wall_seconds']:.3f}",
            f"{run['tasks']:,}",
            f"{run['simpy_events']:,}",
            f"{run['events_per_second']:,.0f}",
            f"{run['peak_traced_mb']:.1f}",
        )
    console = Console()
    if not console.is_terminal:  # a redirected table keeps its columns whole
        console = Console(width=120)
    console.print(table)
    console.print(f"max RSS {record['max_rss_mb']:.0f} MB; all under target: {record['all_under_target']}")
    if args.out:
        write_text_atomically(args.out, json.dumps(record, indent=2, sort_keys=True) + "\n")
        console.print(f"record written to {args.out}")
    return 0
