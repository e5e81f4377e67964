"""`npu-des` entry point: discovers subcommands in npu_des.commands and turns user errors into one line."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import npu_des.commands
from npu_des.errors import ConfigError, SimulationStuck


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints a usage block on bad arguments; we want the one-line error every other input gets."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="npu-des", description="Discrete-event NPU simulator for DNN training")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(npu_des.commands.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue  # shared helpers, not subcommands
        importlib.import_module(f"npu_des.commands.{module.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return args.func(args)
    except (ConfigError, SimulationStuck) as error:
        print(f"npu-des: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npu-des: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
