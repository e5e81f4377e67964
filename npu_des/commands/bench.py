"""`npu-des bench`: how fast the simulator runs (ResNet-50 backward on server_dual and edge_dual, both
orders)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.errors import ConfigError, echoed
from npu_des.files import check_output_file, read_text, write_text_atomically

if TYPE_CHECKING:
    from rich.console import Console

    from npu_des.analysis.bench_matrix import CaseRecord

COMMAND = "bench"
HELP = "time the simulator: wall seconds, SimPy events/s, peak memory"


def register(subparsers: argparse._SubParsersAction) -> None:
    from npu_des.analysis.bench import DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_ORDERS
    from npu_des.analysis.bench_matrix import DEFAULT_MAX_TASKS

    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("--model", help=f"zoo model (default {DEFAULT_MODEL})")
    parser.add_argument("--hw", help=f"comma list of presets (default {','.join(DEFAULT_HARDWARE)})")
    parser.add_argument("--order", help=f"comma list (default {','.join(DEFAULT_ORDERS)})")
    parser.add_argument("--repeats", help="timed runs per case; the best counts (default 3, --matrix 1)")
    parser.add_argument("--out", type=Path, help="write the JSON record here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of timing, print a cProfile of the first case (top functions)",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="every zoo model x every preset (batch 1), ResNet-50 at batch 8 and 32, both orders; "
        "one process per case (--repeats defaults to 1 here)",
    )
    parser.add_argument(
        "--max-tasks",
        default=str(DEFAULT_MAX_TASKS),
        help=f"--matrix: skip cases with more tile tasks (0: none; default {DEFAULT_MAX_TASKS})",
    )
    parser.add_argument(
        "--compare", type=Path, metavar="OLD.json", help="--matrix: print speed-ups against an older record"
    )
    parser.set_defaults(func=bench_command)


MAX_MATRIX_TASKS = 100_000_000  # --max-tasks: beyond it a case runs for hours
MAX_REPEATS = 1000  # more timed runs than anyone waits for; a typo like 30000 would run for days


def _count(text: str, flag: str, minimum: int, maximum: int | None = None) -> int:
    """A decimal count in [minimum, maximum]; anything else (a word, 5000 digits, too many) one line."""
    allowed = f"{minimum}..{maximum:,}" if maximum is not None else f"integers >= {minimum}"
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) < minimum \
            or (maximum is not None and int(text) > maximum):
        raise ConfigError(f"'{echoed(text)}' is not an integer in {allowed}", field=flag, allowed=allowed)
    return int(text)


def _names(text: str, flag: str, noun: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A comma list of distinct names, each in `allowed` if given: a case named twice would run twice."""
    names = tuple(part.strip() for part in text.split(","))
    listed = ", ".join(allowed) if allowed else f"comma-separated {noun}s"
    for name in names:
        if not name:
            raise ConfigError(f"empty {noun} in '{echoed(text)}'", field=flag, allowed=listed)
        if allowed is not None and name not in allowed:
            raise ConfigError(f"unknown {noun} '{echoed(name)}'", field=flag, allowed=listed)
    if len(set(names)) != len(names):
        raise ConfigError(f"a {noun} is given twice in '{echoed(text)}'", field=flag,
                          allowed=f"distinct {noun}s")
    return names


def bench_command(args: argparse.Namespace) -> int:
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

    repeats = _count(args.repeats or ("1" if args.matrix else "3"), "--repeats", 1, MAX_REPEATS)
    if args.compare and not args.matrix:
        raise ConfigError("only compares --matrix records; add --matrix", field="--compare")
    if args.matrix:
        given = (("--model", args.model), ("--hw", args.hw), ("--order", args.order),
                 ("--profile", args.profile or None))
        ignored = [flag for flag, value in given if value is not None]
        if ignored:
            raise ConfigError(f"{', '.join(ignored)} cannot be combined with --matrix, which runs every zoo "
                              "model on every preset in both orders", field="--matrix",
                              allowed="--matrix with --repeats, --max-tasks, --out, --compare")
    else:
        args.model = DEFAULT_MODEL if args.model is None else args.model
        args.hw = ",".join(DEFAULT_HARDWARE) if args.hw is None else args.hw
        args.order = ",".join(DEFAULT_ORDERS) if args.order is None else args.order
    if args.out:
        check_output_file(args.out)
    if args.matrix:
        old = _read_record(args.compare) if args.compare else None
        return matrix_command(args, repeats, _count(args.max_tasks, "--max-tasks", 0, MAX_MATRIX_TASKS), old)
    args.repeats = str(repeats)
    from npu_des.kinds import Order

    hardware = _names(args.hw, "--hw", "preset")
    orders = _names(args.order, "--order", "order", tuple(order.value for order in Order))
    if args.profile:
        print(profile_case(args.model, hardware[0], orders[0]))
        return 0
    record = run_bench(args.model, hardware, orders, repeats)
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
    console.print(f"max RSS {record['max_rss_mb']:.0f} MB; all under target: {record['all_under_target']}; "
                  f"engine {record['engine']}")
    record["startup"] = _startup_line(console, repeats)
    if args.out:
        write_text_atomically(args.out, json.dumps(record, indent=2, sort_keys=True) + "\n")
        console.print(f"record written to {args.out}")
    return 0


def _startup_line(console: Console, repeats: int) -> dict[str, Any]:
    """One line: how long a small run takes from process start to its first simulation (subprocesses,
    npu_des/analysis/startup.py), and the same as a record."""
    from npu_des.analysis.startup import BENCH_COMMAND, measure

    summary = measure(BENCH_COMMAND, repeats).summary()
    first, cpu, wall = (summary[key] for key in ("first_simulation_seconds", "first_simulation_cpu_seconds",
                                                 "wall_seconds"))
    console.print(f"start-up of {summary['command']}: {first:.3f} s to the first simulation "
                  f"({cpu:.3f} s CPU), {wall:.3f} s to exit; median of {repeats}, target "
                  f"{summary['target_seconds']} s",
                  soft_wrap=True)
    return summary


def _read_record(path: Path) -> dict[str, Any]:
    """An earlier `bench --matrix --out` record, checked whole before the matrix runs (minutes), so a bad
    file is one line now rather than a traceback at the end."""
    text = read_text(path, "bench record", field="--compare")
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: brackets nested thousands deep
        detail = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise ConfigError(f"not JSON ({detail})", source=str(path), field="--compare") from None
    if not isinstance(record, dict) or not isinstance(record.get("cases"), list):
        raise ConfigError("not an `npu-des bench --matrix` record (no list of 'cases')", source=str(path),
                          field="--compare")
    for index, entry in enumerate(record["cases"]):
        problem = _case_problem(entry)
        if problem:
            raise ConfigError(f"cases[{index}]: {problem}", source=str(path), field="--compare",
                              allowed="a record written by `npu-des bench --matrix --out`")
    return record


def _case_problem(entry: Any) -> str:
    """What keeps one record entry from being compared ('' if nothing)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("case"), dict):
        return "expected an object with a 'case'"
    case = entry["case"]
    for key, kind in (("model", str), ("hardware", str), ("batch", int), ("order", str), ("overrides", list)):
        if not isinstance(case.get(key), kind) or isinstance(case.get(key), bool):
            return f"case.{key} missing or not a {kind.__name__}"
    if not isinstance(entry.get("skipped", ""), str):
        return "skipped is not text"
    if entry.get("skipped"):
        return ""
    for key in ("wall_seconds", "cpu_seconds", "events_per_task", "simulated_cycles"):
        value = entry.get(key, 0.0 if key == "cpu_seconds" else None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e300:
            return f"{key} {echoed(repr(value))} is not a finite number >= 0"
    return ""


def matrix_command(args: argparse.Namespace, repeats: int, max_tasks: int, old: dict[str, Any] | None) -> int:
    from npu_des.analysis.bench_matrix import Case, compare, matrix_cases, run_matrix
    from npu_des.config import preset_names
    from npu_des.models import MODELS

    def report(record: CaseRecord) -> None:
        label = Case(**{**record.case, "overrides": tuple(record.case["overrides"])}).label
        if record.skipped:
            print(f"{label}: skipped ({record.skipped})", flush=True)
        else:
            print(f"{label}: {record.wall_seconds:.3f} s wall, {record.cpu_seconds:.3f} s CPU, "
                  f"{record.tasks:,} tasks, {record.tasks_per_second:,.0f} tasks/CPU s, "
                  f"{record.events_per_task:.2f} events/task, "
                  f"peak {record.peak_rss_mb:.0f} MB", flush=True)

    record = run_matrix(matrix_cases(sorted(MODELS), preset_names()), repeats, max_tasks, report)
    skipped = sum(1 for case in record["cases"] if case["skipped"])
    print(f"{len(record['cases']) - skipped} cases: {record['total_wall_seconds']:.1f} s wall "
          f"({record['total_cpu_seconds']:.1f} s CPU) of simulate(), "
          f"{record['events_per_task']:.2f} SimPy events per tile task; {skipped} skipped (see above); "
          f"engine {record['engine']}")
    if args.out:
        write_text_atomically(args.out, json.dumps(record, indent=2, sort_keys=True) + "\n")
        print(f"record written to {args.out}")
    if old is not None:
        rows, geomean = compare(old, record)
        print("\nspeed-up (old CPU s / new CPU s) and events per task, old -> new:")
        for label, ratio, old_events, new_events, note in rows:
            print(f"  {label}: {ratio:.2f}x, {old_events:.2f} -> {new_events:.2f} {note}".rstrip())
        print(f"geomean speed-up over {len(rows)} cases: {geomean:.2f}x")
    return 0
