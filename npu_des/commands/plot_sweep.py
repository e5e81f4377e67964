"""`npu-des plot-sweep DIR`: normalized (interleaved / sequential) and absolute time against a swept key."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "plot-sweep"
HELP = "plot a sweep table (PNG + SVG)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("directory", type=Path, metavar="DIR", help="a directory written by `npu-des sweep`")
    parser.add_argument(
        "--x", help="swept key on the x axis (default: the first numeric one with several values)"
    )
    parser.add_argument("--out", type=Path, help="where to write the plots (default DIR/plots)")
    parser.set_defaults(func=plot_sweep_command)


def plot_sweep_command(args: argparse.Namespace) -> int:
    from npu_des.report.sweep_plots import plot_sweep
    from npu_des.sweep.table import load_sweep

    spec, frame = load_sweep(args.directory)
    for path in plot_sweep(frame, spec.keys, args.out or args.directory / "plots", args.x):
        print(path)
    return 0
