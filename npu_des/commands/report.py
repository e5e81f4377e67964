"""`npu-des report DIR`: one self-contained HTML file of a saved run (tables, configuration, every chart
embedded), to mail to a colleague."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "report"
HELP = "write one self-contained HTML report of a saved run (charts embedded)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("directory", type=Path, help="a directory written by `npu-des run --out DIR`")
    parser.add_argument("--out", type=Path, help="the HTML file to write (default: DIR/report.html)")
    parser.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    from npu_des.report.html import write_report
    from npu_des.report.saved import load_runs

    runs = load_runs(args.directory)
    path = write_report(runs, args.out or args.directory / "report.html")
    print(f"wrote {path}")
    return 0
