"""`npu-des sweep`: run a cartesian product of configurations in parallel into a resumable table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.errors import ConfigError, echoed, warn

if TYPE_CHECKING:
    from rich.console import Console

COMMAND = "sweep"
HELP = "run many configurations in parallel (processes or dask) into a resumable table"

SHOWN_ROWS = 40


def count(text: str) -> int:
    """An argparse type for counts: a decimal integer, echoed shortened when it is not (5000 digits)."""
    stripped = text.strip()
    if not (stripped.lstrip("-").isascii() and stripped.lstrip("-").isdigit()) or len(stripped) > 100:
        raise argparse.ArgumentTypeError(f"'{echoed(text)}' is not an integer")
    return int(stripped)


def register(subparsers: argparse._SubParsersAction) -> None:
    from npu_des.models import model_names
    from npu_des.sweep.spec import MAX_POINTS
    from npu_des.sweep.table import CSV, JOURNAL
    from npu_des.sweep.variants import VARIANTS

    parser = subparsers.add_parser(
        COMMAND, help=HELP,
        description="Every combination of --model x --hw x --set values x --order is one point. Finished "
                    f"points are appended to DIR/{JOURNAL} as they land; DIR/{CSV} holds the sorted table.")
    parser.add_argument(
        "--model", default="resnet50", help=f"model name(s), comma-separated ({', '.join(model_names())})"
    )
    parser.add_argument(
        "--hw", default="edge_dual", help="hardware preset(s) or YAML file(s), comma-separated"
    )
    parser.add_argument(
        "--order", default="both",
        help="sequential, interleaved, rearranged, rearranged-best, fused, interleaved-auto, both (default: "
        "sequential,interleaved), or a comma list"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a hardware field or run.* option over values; several --set = cartesian product",
    )
    parser.add_argument(
        "--variant",
        default="baseline",
        help=f"simulator variant(s), comma-separated ({', '.join(VARIANTS)}); dy_once is an oracle "
        "where each dY tile crosses DRAM only once",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory of the result table"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue a sweep in DIR: run only missing points"
    )
    parser.add_argument(
        "--jobs", type=count, default=None, help="local worker processes (default: one per CPU)"
    )
    parser.add_argument(
        "--dask", metavar="ADDRESS", help="run on a dask.distributed scheduler (tcp://host:port)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no result table")
    parser.add_argument(
        "--max-points", type=count, default=MAX_POINTS,
        help=f"refuse sweeps of more points than this before running any (default {MAX_POINTS:,})",
    )
    parser.set_defaults(func=sweep_command)


def sweep_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from npu_des.config import ORDERS
    from npu_des.sweep.runner import run_sweep
    from npu_des.sweep.spec import build_spec, split_list
    from npu_des.sweep.table import CSV, JOURNAL

    if args.dask and args.jobs is not None:
        warn(f"--jobs {args.jobs} changes nothing with --dask: the cluster's workers run the points")
    if args.resume and not (args.out / JOURNAL).exists():
        warn(f"--resume: {args.out} holds no sweep yet; starting a new one")
    orders = list(ORDERS) if args.order == "both" else split_list(args.order)
    if args.max_points < 1:
        raise ConfigError(f"{args.max_points} is not a number of points", field="--max-points",
                          allowed="integers >= 1")
    spec = build_spec(split_list(args.model), split_list(args.hw), orders, args.set, split_list(args.variant),
                      max_points=args.max_points)
    rows = run_sweep(
        spec, args.out, jobs=args.jobs, dask_address=args.dask, resume=args.resume, quiet=args.quiet
    )
    failed = [row for row in rows if row["error"]]
    if not args.quiet:
        console = Console()
        if not console.is_terminal:
            console = Console(width=200)  # a piped table keeps its numbers whole
        print_rows(rows, spec.keys, console, show_variant=len(spec.variants) > 1)
        console.print(f"{len(rows)} points in {args.out / CSV}")
    if failed:
        print(
            f"npu-des: warning: {len(failed)} of {len(rows)} points could not run; "
            f"first: {failed[0]['error']}",
            file=sys.stderr,
        )
        return 1
    return 0


def print_rows(
    rows: list[dict[str, Any]], keys: list[str], console: Console, show_variant: bool = False
) -> None:
    """A short table of the headline numbers (the CSV has every column)."""
    from rich.table import Table

    table = Table(title=None if len(rows) <= SHOWN_ROWS else f"first {SHOWN_ROWS} of {len(rows)} points")
    text = ("model", "hw", "order", "variant")
    variant = ("variant",) if show_variant else ()
    energy = any("energy_pj" in row for row in rows)  # hardware with `energy:` prices
    priced = ("energy uJ", "pJ/MAC") if energy else ()
    for name in (*text[:2], *variant, *keys, "order", "ms", "DRAM MB", "dY rd MB", "hits", *priced):
        table.add_column(name, justify="left" if name in text else "right", no_wrap=True)
    for row in rows[:SHOWN_ROWS]:
        if row["error"]:
            measured = ["error", "", "", "", *("" for _ in priced)]
        else:
            measured = [
                f"{row['seconds'] * 1e3:.3f}",
                f"{row['total_dram_bytes'] / 1e6:.2f}",
                f"{row['read_dY'] / 1e6:.2f}",
                f"{row['spm_hit_rate']:.1%}",
            ]
            if energy:
                value = row.get("energy_pj")
                known = isinstance(value, (int, float)) and value == value  # NaN: hardware without prices
                measured += ([f"{row['energy_pj'] / 1e6:.3f}", f"{row['pj_per_mac']:.2f}"] if known
                             else ["-", "-"])
        identity = [
            row["model"],
            row["hw"],
            *(row[name] for name in variant),
            *(str(row[key]) for key in keys),
        ]
        table.add_row(*identity, row["order"], *measured)
    console.print(table)
