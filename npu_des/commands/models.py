"""`npu-des models`: the zoo, with layer counts, MACs and weight bytes, to pick a workload by size."""

from __future__ import annotations

import argparse

COMMAND = "models"
HELP = "list the model zoo (layers, MACs, parameter bytes)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("--batch", type=int, default=1, help="batch size for the MAC counts (default 1)")
    parser.set_defaults(func=models_command)


def models_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from npu_des.models import model_table

    table = Table(title=f"npu-des model zoo (forward pass, batch {args.batch})")
    for column in ("model", "layers", "GMACs", "parameter MB (2 B/elem)"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in model_table(batch=args.batch):
        table.add_row(row.name, str(row.layers), f"{row.macs / 1e9:.3f}", f"{row.parameter_bytes / 1e6:.1f}")
    Console().print(table)
    return 0
