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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `npu-des` parser. With `command`, only that subcommand registers its options (the others are
    listed by name and help), so start-up imports what one command needs and no more."""
    parser = _OneLineParser(prog="npu-des", description="Discrete-event NPU simulator for DNN training")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [importlib.import_module(f"npu_des.commands.{module.name}")
               for module in sorted(pkgutil.iter_modules(npu_des.commands.__path__), key=lambda m: m.name)
               if not module.name.startswith("_")]  # shared helpers, not subcommands
    for module in modules:
        if command in (None, module.COMMAND):
            module.register(subparsers)
        else:
            subparsers.add_parser(module.COMMAND, help=module.HELP)
    return parser


def _command(argv: list[str]) -> str:
    """The subcommand named on the command line ("" for none, e.g. `npu-des --help`)."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args))
    except (ConfigError, SimulationStuck) as error:
        print(f"npu-des: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npu-des: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
