"""`npu-des check`: run like `npu-des run`, then verify the run's invariants post hoc (npu_des.checks).

Exit 0 when every invariant holds, 1 with the violations listed when one does not, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from npu_des.commands._inputs import add_input_arguments, load_inputs
from npu_des.commands._suspicious import warn_run_options
from npu_des.commands.run import add_schedule_arguments, order_options, selected_orders

COMMAND = "check"
HELP = ("simulate like `run`, then verify SPM capacity, byte conservation, dependencies, "
        "tile coverage and lower bounds (exit 1 on a violation)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    add_input_arguments(parser)
    add_schedule_arguments(parser)
    parser.add_argument("--tile", help="force tile sizes M,N,K (elements)")
    parser.add_argument(
        "--pin", action="append", default=[], metavar="LAYER:KIND", help="pin a tensor in the SPM"
    )
    parser.add_argument("--json", action="store_true", help="print {order: [violations]} as JSON")
    parser.set_defaults(func=check_command)


def check_command(args: argparse.Namespace) -> int:
    from npu_des.analysis.checks import check_run
    from npu_des.config import explicit_batch, with_preset_batch
    from npu_des.sim.driver import simulate

    orders = selected_orders("both" if args.order is None else args.order)
    options = order_options(args, orders)
    inputs = load_inputs(args, explicit_batch(options[0]))
    options = [with_preset_batch(option, inputs.hardware) for option in options]
    warn_run_options(args, options, inputs.hardware)
    report: dict[str, list[str]] = {}
    for order, option in zip(orders, options):
        result = simulate(inputs.workload, inputs.hardware, option)
        report[order] = check_run(result, inputs.workload, inputs.hardware, option)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        for order, violations in report.items():
            name = f"{inputs.workload.name} on {inputs.hardware.name}, {order}"
            if violations:
                print(f"FAIL {name}: {len(violations)} violation(s)")
                for line in violations:
                    print(f"  - {line}")
            else:
                print(f"ok   {name}: all invariants hold")
    failed = sum(bool(violations) for violations in report.values())
    if failed:
        print(f"npu-des: {failed} of {len(report)} run(s) violate invariants", file=sys.stderr)
    return 1 if failed else 0
