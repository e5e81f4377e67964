"""`npu-des` entry point: discovers subcommands in npu_des.commands and turns user errors into one line.

Exit codes: 0 success, 1 a check or a sweep point failed, 2 bad input (one `npu-des: error:` line),
130 SIGINT (Ctrl-C), 143 SIGTERM. Suspicious but accepted input prints `npu-des: warning:` lines when
the command ends (not when it ends in an error or a signal: then that is the only line).
A closed stdout (`npu-des run --json | head -1`) ends quietly with exit 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

import npu_des.commands
from npu_des import __version__
from npu_des.errors import ConfigError, InputWarning, Interrupted, SimulationStuck, one_line


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints a usage block on bad arguments; we want the one-line error every other input gets."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `npu-des` parser. With `command`, only that subcommand registers its options (the others are
    listed by name and help), so start-up imports what one command needs and no more."""
    parser = _OneLineParser(prog="npu-des", description="Discrete-event NPU simulator for DNN training")
    parser.add_argument("--version", action="version", version=f"npu-des {__version__}")
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


def _raise_terminated(signal_number: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal_number)


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """SIGTERM raises Interrupted in the main thread, so cleanup (workers, staged folders) runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (main() called from a worker thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _one_line_warnings(pending: list[str]) -> Iterator[None]:
    """Each distinct InputWarning is kept as one `npu-des: warning:` line in `pending`; main() prints them
    when the command ends, and drops them when it ends in an error (which is then the only line)."""
    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if not issubclass(category, InputWarning):
            original(message, category, filename, lineno, file, line)
            return
        text = f"npu-des: warning: {one_line(str(message))}"
        if text not in pending:
            pending.append(text)

    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)
        warnings.showwarning = show
        yield


def _print_warnings(pending: list[str]) -> None:
    for line in pending:
        print(line, file=sys.stderr)


def _stdout_closed() -> int:
    """The reader of our stdout went away (`| head`): what it wanted it got; say nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    pending: list[str] = []
    try:
        with _terminate_as_exception(), _one_line_warnings(pending):
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            code = int(args.func(args))
            sys.stdout.flush()
            _print_warnings(pending)
            return code
    except (ConfigError, SimulationStuck) as error:
        print(f"npu-des: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        return _interrupted(Interrupted(signal.SIGINT))
    except Interrupted as interrupt:
        return _interrupted(interrupt)


def _interrupted(interrupt: Interrupted) -> int:
    name = signal.Signals(interrupt.signal_number).name
    note = interrupt.note or "stopped; no partial output was left"
    print(f"npu-des: interrupted by {name}: {one_line(note)}", file=sys.stderr)
    return 128 + interrupt.signal_number


if __name__ == "__main__":
    sys.exit(main())
