"""`npu-des report DIR`: one self-contained HTML file of a saved run (tables, configuration, every chart
embedded), to mail to a colleague."""

from __future__ import annotations

import argparse
from pathlib import Path

from npu_des.files import check_output_file

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

    path = args.out or args.directory / "report.html"
    if args.out:  # before the charts are drawn (seconds): a bad --out is one line, not a late traceback
        check_output_file(path)
    runs = load_runs(args.directory)
    if not args.out:
        check_output_file(path, "DIR")
    write_report(runs, path, "--out" if args.out else "DIR")
    print(f"wrote {path}")
    return 0
