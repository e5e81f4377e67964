"""`npu-des compare A B` (or `npu-des compare DIR` for the orders of one run): deltas of time, DRAM bytes by
tensor kind, energy and stall reasons, per layer and in total; a table (plain text when piped) and a chart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from npu_des.commands.plot import parse_formats
from npu_des.errors import ConfigError
from npu_des.files import check_output_dir, check_output_file, write_failure

if TYPE_CHECKING:  # saved runs, tables and charts load when the command runs, not when the CLI starts
    from npu_des.report.saved import SavedRun

COMMAND = "compare"
HELP = "per-layer and total deltas between saved runs (two directories, or the orders of one)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument(
        "directories",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="A B (two `npu-des run --out` directories), or one directory holding several orders",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write compare.png/.svg (default: the one DIR, or the current directory)",
    )
    parser.add_argument("--formats", default="png,svg", help="chart formats, comma-separated (png, svg, pdf)")
    parser.set_defaults(func=compare_command)


def selected_runs(directories: list[Path]) -> list[SavedRun]:
    """A B: one run each (a both-orders directory must name its order); DIR: every order in it."""
    from npu_des.report.saved import load_runs

    if len(directories) == 1:
        runs = load_runs(directories[0])
        if len(runs) < 2:
            raise ConfigError(
                "holds one run; give two directories, or one with several orders", source=str(directories[0])
            )
        return runs
    if len(directories) != 2:
        raise ConfigError(f"got {len(directories)} directories", field="DIR", allowed="A B, or one DIR")
    runs = []
    for directory in directories:
        found = load_runs(directory)
        if len(found) != 1:
            raise ConfigError(
                f"holds {len(found)} runs ({', '.join(r.order for r in found)}); name one of them,"
                f" e.g. {directory / found[0].order}",
                source=str(directory),
            )
        runs += found
    return runs


def compare_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from npu_des.report.compare import compare_runs, comparison_tables, draw_comparison, render_plain

    formats = parse_formats(args.formats)
    out = args.out or (args.directories[0] if len(args.directories) == 1 else Path("."))
    check_output_dir(out)  # before reading anything: a bad --out is one line, not a traceback at the end
    for extension in formats:
        check_output_file(out / f"compare.{extension}", "--out" if args.out else "DIR")
    runs = selected_runs(args.directories)
    comparisons = [compare_runs(runs[0], other) for other in runs[1:]]
    tables = [table for comparison in comparisons for table in comparison_tables(comparison)]
    if sys.stdout.isatty():
        console = Console()
        for title, headers, rows in tables:
            table = Table(title=title, title_justify="left")
            for index, header in enumerate(headers):
                table.add_column(header, justify="left" if index == 0 else "right")
            for row in rows:
                table.add_row(*row)
            console.print(table)
    else:
        print(render_plain(tables))
    with write_failure(out / "compare", "--out"):
        out.mkdir(parents=True, exist_ok=True)
        written = draw_comparison(comparisons, out / "compare", formats)
    for path in written:
        print(f"wrote {path}")
    return 0
