"""`npu-des run`: simulate a model's training step, backward or forward pass on a hardware preset, in one or
more orders."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.commands._inputs import Inputs, add_input_arguments, load_inputs
from npu_des.commands._suspicious import warn_run_options
from npu_des.errors import ConfigError
from npu_des.files import check_output_dir, staged_directory

if TYPE_CHECKING:  # heavy modules load when the command runs, not when the CLI starts
    from npu_des.config import RunOptions
    from npu_des.metrics import RunResult

COMMAND = "run"
HELP = ("simulate a training step, a backward or a forward pass (default: ResNet-50 training on MICRO'23's "
        "small NPU, the paper's orders side by side)")

ORDER_HELP = (
    "sequential (baseline: per layer all dX, then all dW), sequential-tuned (= sequential --baseline "
    "tuned), interleaved (MICRO'23 Only Interleaving), rearranged (interleaving + Algorithm 1's access order "
    "per layer), rearranged-best (per layer the fastest of the three access orders, by simulation), "
    "partitioned (= rearranged --partition auto), fused (one fused tile loop nest, --loop-order), "
    "interleaved-auto (= fused with --loop-order auto); a comma list, or both (= sequential,interleaved)"
)
# `npu-des run`'s defaults: a training step of ResNet-50 (--model's default) on MICRO'23's small NPU at its
# batch 4, in the paper's steps beside the tuned baseline (README "Running" says why this configuration)
RUN_HARDWARE = "micro23_small"
PAPER_STEPS = ("sequential", "sequential-tuned", "interleaved", "rearranged", "partitioned")
RUN_ORDERS = ",".join(PAPER_STEPS)


def add_schedule_arguments(parser: argparse.ArgumentParser, default_orders: str = "both") -> None:
    """The schedule flags `run` and `check` share: orders, baseline, partitioning, core mapping, loops."""
    from npu_des.config import PARTITION_VALUES

    parser.add_argument("--order", default=None, help=f"{ORDER_HELP}; default {default_orders}")
    parser.add_argument(
        "--baseline",
        choices=("fixed", "tuned"),
        help="sequential only: fixed (traditional loop orders, default tiles; default) or tuned (per op the "
        "loop order and tile shape of least estimated traffic)",
    )
    parser.add_argument(
        "--partition",
        choices=PARTITION_VALUES,
        help="MICRO'23 data partitioning of each layer into run.partitions parts (default cores, 2 on one "
        "core): weight-sharing (split M), dY-sharing (split N), ifmap-sharing (split K), auto (per layer by "
        "simulation), predict (per layer by a KNN; needs npu-des[predict]); default none",
    )
    parser.add_argument(
        "--core-mapping",
        choices=("output", "m", "n", "op", "auto"),
        help="how a partition's tiles are dealt to its cores (default output; auto: simulated per layer)",
    )
    parser.add_argument(
        "--loop-order", help="the fused order's tile loop nest: a permutation of mnk or auto (default mnk)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    add_input_arguments(parser, default_hw=RUN_HARDWARE)
    add_schedule_arguments(parser, default_orders=RUN_ORDERS)
    parser.add_argument(
        "--pass",
        dest="pass_",
        choices=("training", "backward", "forward"),
        help="training (the forward pass, then the backward pass in each --order; default), backward "
        "(gradients only) or forward (inference; --order does not apply)",
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
    """Yields `bar(label)` -> a simulate() progress callback (when disabled, not a terminal: one notice
    line for a run over the default run.max_tasks, commands/_notice.py)."""
    if not enabled:
        from npu_des.commands._notice import long_run_notice

        yield long_run_notice
        return
    from rich.console import Console
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
    """Order names of `--order` (aliases kept as given), each once."""
    from npu_des.config import ORDER_NAMES, ORDERS

    if text == "both":
        return list(ORDERS)
    orders = [part.strip() for part in text.split(",")]
    for order in orders:
        if order not in ORDER_NAMES:
            raise ConfigError(
                f"unknown order '{order}'", field="--order", allowed=", ".join((*ORDER_NAMES, "both"))
            )
    if len(set(orders)) != len(orders):
        raise ConfigError(f"order given twice in '{text}'", field="--order", allowed="distinct orders")
    return orders


def option_fields(args: argparse.Namespace) -> dict[str, Any]:
    """Run-option fields from the flags `run` and `check` share (None: not given, the default applies)."""
    return {"batch": args.batch, "tile": parse_tile(args.tile), "pins": tuple(args.pin) or None,
            "loop_order": args.loop_order, "partition": args.partition, "baseline": args.baseline,
            "core_mapping": args.core_mapping}


def order_options(args: argparse.Namespace, orders: list[str], **fields: Any) -> list[RunOptions]:
    """One RunOptions per order name (an alias's fields win over the flags they name and `fields`)."""
    from npu_des.config import order_fields, run_options

    base = {**option_fields(args), **fields}
    return [run_options(args.set, **{**base, **order_fields(order)}) for order in orders]


def run_command(args: argparse.Namespace) -> int:
    from npu_des.config import ORDER_ALIASES, explicit_batch, run_options, with_preset_batch
    from npu_des.sim.driver import simulate

    if (args.plot or args.trace) and not args.out:
        raise ConfigError("needs --out DIR to write into", field="--plot" if args.plot else "--trace")
    if args.out:
        check_output_dir(args.out)
    orders = selected_orders(RUN_ORDERS if args.order is None else args.order)
    options = order_options(args, orders, pass_=args.pass_ or "training")
    if options[0].pass_ == "forward":  # one forward run, whatever --order says
        options = [run_options(args.set, **{**option_fields(args), "pass_": "forward"})]
    inputs = load_inputs(args, explicit_batch(options[0]))
    options = [with_preset_batch(option, inputs.hardware) for option in options]
    warn_run_options(args, options, inputs.hardware)
    results: list[RunResult] = []
    with progress_bar(enabled=sys.stderr.isatty() and not args.json) as bar:
        for name, option in zip(orders, options):
            forward = results[0].passes.get("forward") if results else None  # the same for every order
            result = simulate(inputs.workload, inputs.hardware, option,
                              progress=bar(f"{inputs.workload.name} {name}"), forward=forward)
            if name in ORDER_ALIASES and option.pass_ != "forward":
                result.order = name  # sequential-tuned, partitioned: the name asked for, not the order
            results.append(result)
    # what only the finished runs need loads after them: the first simulation starts sooner
    from rich.console import Console

    from npu_des.analysis.explain import explain
    from npu_des.report.tables import print_summary

    for result, option in zip(results, options):
        result.notes = [*inputs.notes, *result.notes]  # the inputs' notes, then what the run itself says
        explain(result, inputs.workload, inputs.hardware, option)  # bounds; energy if the hardware has prices
    violations = _check(results, inputs, options) if args.check else []
    if args.out:
        _write_results(args, results)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2, sort_keys=True))
    else:
        console = Console()
        for note in dict.fromkeys(note for result in results for note in result.notes):  # inputs' first
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


def _write_results(args: argparse.Namespace, results: list[RunResult]) -> None:
    """Everything goes into a temporary sibling of --out first and moves in when complete, so Ctrl-C
    or a failure while writing leaves the previous contents of --out as they were."""
    from npu_des.commands.plot import render
    from npu_des.report.tables import write_run

    with staged_directory(args.out) as stage:
        for result in results:
            write_run(result, stage / result.order if len(results) > 1 else stage)
        if len(results) > 1:
            (stage / "comparison.json").write_text(
                json.dumps({r.order: r.summary() for r in results}, indent=2, sort_keys=True) + "\n"
            )
        if args.plot or args.trace:
            render(stage, charts=args.plot, trace=args.trace)


def _check(results: list[RunResult], inputs: Inputs, options: list[RunOptions]) -> list[str]:
    """Invariant violations of every run, each prefixed with its order (npu_des/checks.py)."""
    from npu_des.analysis.checks import check_run

    return [
        f"{result.order}: {line}"
        for result, option in zip(results, options)
        for line in check_run(result, inputs.workload, inputs.hardware, option)
    ]
