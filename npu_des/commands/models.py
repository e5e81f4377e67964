"""`npu-des models`: the zoo, with layer counts, MACs and weight bytes, to pick a workload by size."""

from __future__ import annotations

import argparse

from npu_des.errors import ConfigError

COMMAND = "models"
MAX_BATCH = 4096
HELP = "list the model zoo (layers, MACs, parameter bytes)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(COMMAND, help=HELP)
    parser.add_argument("--batch", type=int, default=1, help="batch size for the MAC counts (default 1)")
    parser.set_defaults(func=models_command)


def models_command(args: argparse.Namespace) -> int:
    """The zoo as a table: boxed on a terminal, plain aligned text when piped (like every other table)."""
    from rich.console import Console

    from npu_des.models import model_table
    from npu_des.report.tables import print_table

    if not 1 <= args.batch <= MAX_BATCH:  # as run.batch: a model's MACs at batch 0 or 10^20 mean nothing
        raise ConfigError(f"batch {args.batch} is out of range", field="--batch", allowed=f"1..{MAX_BATCH}")
    rows = [(row.name, [str(row.layers), f"{row.macs / 1e9:.3f}", f"{row.parameter_bytes / 1e6:.1f}"])
            for row in model_table(batch=args.batch)]
    print_table(f"npu-des model zoo (forward pass, batch {args.batch})",
                ["model", "layers", "GMACs", "parameter MB (2 B/elem)"], rows, Console())
    return 0
