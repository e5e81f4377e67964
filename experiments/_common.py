"""Shared plumbing of the experiment scripts: arguments, running a sweep into results/<name>/, tables,
figures.

Each experiment is a handful of sweeps (npu_des.sweep) plus a few lines of arithmetic on the table,
so what it measures is visible in the script and every number comes from a simulation run now.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import pandas
from rich.console import Console
from rich.table import Table

from npu_des.models import model_names
from npu_des.sweep.runner import run_sweep
from npu_des.sweep.spec import build_spec
from npu_des.sweep.table import to_frame

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["plt"]
REPLICATION_MODELS = ("resnet50", "googlenet", "mobilenet_v1", "faster_rcnn")
console = Console(width=160)


def parse_args(name: str, description: str, flags: dict[str, str] | None = None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The common options, plus experiment-specific boolean `flags` (name -> help) and whatever `extra`
    adds to the parser."""
    parser = argparse.ArgumentParser(description=description)
    for flag, help_text in (flags or {}).items():
        parser.add_argument(flag, action="store_true", help=help_text)
    if extra is not None:
        extra(parser)
    parser.add_argument(
        "--quick", action="store_true", help="a small subset that runs in well under a minute"
    )
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run the points on a dask.distributed scheduler")
    parser.add_argument("--out", type=Path, default=Path("results") / name, help=f"default results/{name}")
    parser.add_argument("--resume", action="store_true", help="reuse finished points of an interrupted run")
    args = parser.parse_args()
    args.started = time.perf_counter()
    return args


def available(models: Sequence[str]) -> list[str]:
    """The wanted models that the zoo has; the others are skipped with a note (the zoo is still growing)."""
    present = set(model_names())
    for model in models:
        if model not in present:
            console.print(f"note: model '{model}' is not in npu_des.models yet; skipped")
    return [model for model in models if model in present]


def sweep(
    args: argparse.Namespace,
    name: str,
    models: Sequence[str],
    hardware: Sequence[str],
    orders: Sequence[str],
    sets: Sequence[str] = (),
    variants: Sequence[str] = ("baseline",),
) -> pandas.DataFrame:
    """Run one sweep into OUT/sweeps/NAME (fresh unless --resume) and return its table."""
    spec = build_spec(models, hardware, orders, sets, variants)
    directory = args.out / "sweeps" / name
    if directory.exists() and not args.resume:
        shutil.rmtree(directory)
    rows = run_sweep(spec, directory, jobs=args.jobs, dask_address=args.dask, resume=args.resume)
    frame = to_frame(rows, spec.keys)
    failed = frame[frame["error"] != ""]
    for _, row in failed.iterrows():
        console.print(f"note: {row['model']} on {row['hw']} failed: {row['error']}")
    return frame[frame["error"] == ""].copy()


def print_table(title: str, frame: pandas.DataFrame, formats: dict[str, str] | None = None) -> None:
    """A DataFrame as a rich table; `formats` maps columns to format specs such as '.1%'."""
    formats = formats or {}
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(
            str(column),
            justify="right" if pandas.api.types.is_numeric_dtype(frame[column]) else "left",
            no_wrap=True,
        )
    for _, row in frame.iterrows():
        table.add_row(*(_format(row[column], formats.get(column)) for column in frame.columns))
    console.print(table)


def _format(value: Any, spec: str | None) -> str:
    if spec and isinstance(value, int | float):
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def save_figure(figure: Any, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=150)
    plt.close(figure)
    return paths


def finish(args: argparse.Namespace, written: Sequence[Path]) -> None:
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"took {time.perf_counter() - args.started:.1f} s")
