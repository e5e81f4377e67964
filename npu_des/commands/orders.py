"""`npu-des orders`: per layer, the closed-form traffic estimate vs the simulated DRAM bytes of every
fused tile loop nest (order `fused`), and the nest `--loop-order auto` (`interleaved-auto`) picks."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from npu_des.commands._inputs import add_input_arguments, load_inputs
from npu_des.files import check_output_file, write_text_atomically

COMMAND = "orders"
HELP = "estimated vs simulated DRAM bytes per layer for every fused loop order"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    add_input_arguments(parser)
    parser.add_argument("--out", type=Path, help="write the table as CSV here")
    parser.set_defaults(func=orders_command)


def orders_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from npu_des.config import explicit_batch, run_options, with_preset_batch
    from npu_des.schedule.estimate import LOOP_ORDERS, best_loop_order, interleaved_traffic, total_bytes
    from npu_des.schedule.plan import plan
    from npu_des.sim.driver import simulate

    if args.out:
        check_output_file(args.out)
    base = run_options(args.set, order="fused", batch=args.batch)
    inputs = load_inputs(args, explicit_batch(base))
    base = with_preset_batch(base, inputs.hardware)
    capacity = inputs.hardware.spm.capacity_bytes
    schedule, _ = plan(inputs.workload, inputs.hardware, base)
    rows: list[dict[str, str | int]] = []
    simulated: dict[str, dict[str, int]] = {}
    for order in LOOP_ORDERS:
        result = simulate(inputs.workload, inputs.hardware, base.model_copy(update={"loop_order": order}),
                          record_timeline=False)  # per-layer bytes only
        simulated[order] = {
            r.layer: sum(r.read_bytes.values()) + sum(r.write_bytes.values()) for r in result.layers
        }
    for name, grid in schedule.grids.items():
        row: dict[str, str | int] = {
            "layer": name,
            "tiles_gmnk": "x".join(map(str, grid.counts)),
            "auto": best_loop_order(grid, capacity),
        }
        for order in LOOP_ORDERS:
            row[f"est_{order}"] = total_bytes(interleaved_traffic(grid, order, capacity))
            row[f"sim_{order}"] = simulated[order][name]
        rows.append(row)
    table = Table(
        title=f"{inputs.workload.name} on {inputs.hardware.name}: DRAM KB per layer, estimate / simulated"
    )
    for column in ("layer", "tiles", "auto", *LOOP_ORDERS):
        table.add_column(column, justify="left" if column in ("layer", "tiles", "auto") else "right")
    for row in rows:
        table.add_row(
            str(row["layer"]),
            str(row["tiles_gmnk"]),
            str(row["auto"]),
            *(f"{int(row[f'est_{o}']) / 1e3:.0f}/{int(row[f'sim_{o}']) / 1e3:.0f}" for o in LOOP_ORDERS),
        )
    totals = {o: sum(int(r[f"sim_{o}"]) for r in rows) for o in LOOP_ORDERS}
    console = Console()
    console.print(table)
    console.print(
        "simulated total per fixed order: " + ", ".join(f"{o} {v / 1e6:.1f} MB" for o, v in totals.items())
    )
    if args.out:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomically(args.out, text.getvalue())
        console.print(f"table written to {args.out}")
    return 0
