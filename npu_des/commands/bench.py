"""`npu-des bench`: how fast the simulator runs (ResNet-50 backward on server_dual and edge_dual, both
orders)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npu_des.errors import ConfigError
from npu_des.files import check_output_file, read_text, write_text_atomically

if TYPE_CHECKING:
    from npu_des.analysis.bench_matrix import CaseRecord

COMMAND = "bench"
HELP = "time the simulator: wall seconds, SimPy events/s, peak memory"


def register(subparsers: argparse._SubParsersAction) -> None:
    from npu_des.analysis.bench import DEFAULT_HARDWARE, DEFAULT_MODEL, DEFAULT_ORDERS
    from npu_des.analysis.bench_matrix import DEFAULT_MAX_TASKS

    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"zoo model (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--hw",
        default=",".join(DEFAULT_HARDWARE),
        help="comma list of presets (default server_dual,edge_dual)",
    )
    parser.add_argument("--order", default=",".join(DEFAULT_ORDERS), help="comma list (default both orders)")
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


def _count(text: str, flag: str, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise ConfigError(f"'{text}' is not an integer >= {minimum}", field=flag)
    return int(text)


def bench_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from npu_des.analysis.bench import TARGET_SECONDS, profile_case, run_bench

    repeats = _count(args.repeats or ("1" if args.matrix else "3"), "--repeats", 1)
    if args.compare and not args.matrix:
        raise ConfigError("only compares --matrix records; add --matrix", field="--compare")
    if args.out:
        check_output_file(args.out)
    if args.matrix:
        old = _read_record(args.compare) if args.compare else None
        return matrix_command(args, repeats, _count(args.max_tasks, "--max-tasks", 0), old)
    args.repeats = str(repeats)
    hardware = tuple(part.strip() for part in args.hw.split(","))
    orders = tuple(part.strip() for part in args.order.split(","))
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
    console.print(f"max RSS {record['max_rss_mb']:.0f} MB; all under target: {record['all_under_target']}")
    if args.out:
        write_text_atomically(args.out, json.dumps(record, indent=2, sort_keys=True) + "\n")
        console.print(f"record written to {args.out}")
    return 0


def _read_record(path: Path) -> dict[str, Any]:
    text = read_text(path, "bench record", field="--compare")
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"not JSON ({error})", source=str(path), field="--compare") from None
    if not isinstance(record, dict) or "cases" not in record:
        raise ConfigError("not an `npu-des bench --matrix` record (no 'cases')", source=str(path))
    return record


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
          f"{record['events_per_task']:.2f} SimPy events per tile task; {skipped} skipped (see above)")
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
