"""`npu-des run`: simulate a model's backward pass on a hardware preset, in one or both orders."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from npu_des.commands._inputs import Inputs, add_input_arguments, load_inputs
from npu_des.commands.plot import render
from npu_des.config import RunOptions, run_options
from npu_des.errors import ConfigError
from npu_des.metrics import RunResult
from npu_des.report.tables import print_summary, write_run
from npu_des.sim.driver import simulate

# --order name -> RunOptions fields; "both" = the two orders the MICRO'23 comparison needs
ORDER_CHOICES = {
    "sequential": {"order": "sequential"},
    "interleaved": {"order": "interleaved"},
    "interleaved-auto": {"order": "interleaved", "loop_order": "auto"},
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="simulate a backward pass (default: ResNet-50 on edge_dual, both orders)"
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--order",
        default="both",
        help="sequential, interleaved, interleaved-auto (loop order per layer), a comma list, "
        "or both (default: sequential,interleaved)",
    )
    parser.add_argument(
        "--pass",
        dest="pass_",
        choices=("backward", "forward"),
        help="backward (training gradients, default) or forward (inference; --order does not apply)",
    )
    parser.add_argument(
        "--partition",
        choices=("output", "m", "n", "op", "auto"),
        help="multi-core partition of the interleaved gradients (default output; auto = per layer)",
    )
    parser.add_argument("--out", type=Path, help="write summary.json, layers.csv, timeline.csv, spm.csv here")
    parser.add_argument("--tile", help="force tile sizes M,N,K (elements)")
    parser.add_argument(
        "--pin", action="append", default=[], metavar="LAYER:KIND", help="pin a tensor in the SPM"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the run's invariants afterwards (capacity, bytes, dependencies, bounds); "
        "exit 1 if any fails",
    )
    parser.add_argument(
        "--loop-order", help="interleaved tile loop order: a permutation of mnk or auto (default mnk)"
    )
    parser.add_argument("--json", action="store_true", help="print summaries as JSON instead of a table")
    parser.add_argument(
        "--plot", action="store_true", help="also draw Gantt and per-layer charts into --out DIR"
    )
    parser.add_argument(
        "--trace", action="store_true", help="also write Chrome trace JSON (Perfetto) into --out DIR"
    )
    parser.set_defaults(func=run_command)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None] | None]]:
    """Yields `bar(label)` -> a simulate() progress callback (None when disabled: not a terminal)."""
    if not enabled:
        yield lambda _label: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tiles"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:

        def bar(label: str) -> Callable[[int, int], None]:
            task = progress.add_task(label, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        yield bar


def parse_tile(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"'{text}' is not three positive integers M,N,K", field="--tile")
    return dict(zip("mnk", (int(p) for p in parts)))


def selected_orders(text: str) -> list[str]:
    if text == "both":
        return ["sequential", "interleaved"]
    orders = [part.strip() for part in text.split(",")]
    for order in orders:
        if order not in ORDER_CHOICES:
            raise ConfigError(
                f"unknown order '{order}'", field="--order", allowed=", ".join((*ORDER_CHOICES, "both"))
            )
    return orders


def option_fields(args: argparse.Namespace) -> dict[str, Any]:
    """Run-option fields from the flags `run` and `check` share (None: not given, the default applies)."""
    return {"batch": args.batch, "tile": parse_tile(args.tile), "pins": tuple(args.pin) or None,
            "loop_order": args.loop_order, "partition": args.partition}


def run_command(args: argparse.Namespace) -> int:
    if (args.plot or args.trace) and not args.out:
        raise ConfigError("needs --out DIR to write into", field="--plot" if args.plot else "--trace")
    orders = selected_orders(args.order)
    base = option_fields(args)
    options = [run_options(args.set, **{**base, **ORDER_CHOICES[order]}) for order in orders]
    if args.pass_ == "forward" or options[0].pass_ == "forward":  # one forward run, whatever --order says
        options = [run_options(args.set, **{**base, "pass_": "forward"})]
    inputs = load_inputs(args, options[0].batch)
    with progress_bar(enabled=sys.stderr.isatty() and not args.json) as bar:
        results: list[RunResult] = [
            simulate(inputs.workload, inputs.hardware, option, progress=bar(f"{inputs.workload.name} {name}"))
            for name, option in zip(orders, options)
        ]
    for result in results:
        result.notes = [*inputs.notes, *result.notes]  # the inputs' notes, then what the run itself says
    violations = _check(results, inputs, options) if args.check else []
    if args.out:
        for result in results:
            write_run(result, args.out / result.order if len(results) > 1 else args.out)
        if len(results) > 1:
            (args.out / "comparison.json").write_text(
                json.dumps({r.order: r.summary() for r in results}, indent=2, sort_keys=True) + "\n"
            )
        if args.plot or args.trace:
            render(args.out, charts=args.plot, trace=args.trace)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2, sort_keys=True))
    else:
        console = Console()
        for note in inputs.notes:
            console.print(f"note: {note}")
        print_summary(results, console)
        if args.out:
            console.print(f"results written to {args.out}")
    if args.check:
        for line in violations:
            print(f"npu-des: check failed: {line}", file=sys.stderr)
        if not args.json:
            Console().print(
                "check: all invariants hold" if not violations else f"check: {len(violations)} violation(s)"
            )
    return 1 if violations else 0


def _check(results: list[RunResult], inputs: Inputs, options: list[RunOptions]) -> list[str]:
    """Invariant violations of every run, each prefixed with its order (npu_des/checks.py)."""
    from npu_des.analysis.checks import check_run

    return [
        f"{result.order}: {line}"
        for result, option in zip(results, options)
        for line in check_run(result, inputs.workload, inputs.hardware, option)
    ]
