"""Benchmark: start-up time of the command line (goal: `--help` and a tiny_cnn run within 0.3 s).

    python benchmarks/startup.py                    # --help, run tiny_cnn, run tiny_cnn backward edge_dual
    python benchmarks/startup.py --repeats 21       # more runs per command (median of them)
    python benchmarks/startup.py --imports 15       # also the 15 costliest imports before the simulation
    python benchmarks/startup.py --bytecode-cache   # as an installed package starts (.pyc files read)
    python benchmarks/startup.py -- run --model resnet50 --pass forward   # any other command

Per command: the median seconds from process start to the first simulation (the moment before the
engine's clock starts; `-` for a command that simulates nothing) and until the process exits, wall-clock
and as CPU seconds (to the first simulation: the main thread; to exit: the process), over --repeats runs
after one untimed run. Last, for reference, the floor: a bare `python -c 'import ...'` of the libraries
a run needs before it simulates (pydantic, yaml, networkx, numpy, simpy). The environment is passed on
as it is: with PYTHONDONTWRITEBYTECODE set, npu_des compiles from source on every start;
--bytecode-cache measures with .pyc files in a temporary PYTHONPYCACHEPREFIX instead. The logic lives
in npu_des/analysis/startup.py; run by hand before and after a change that touches imports; it is not
a timed test.
"""

from __future__ import annotations

import argparse
import sys

from npu_des.analysis.startup import (
    COMMANDS,
    TARGET_SECONDS,
    by_package,
    import_profile,
    libraries_only,
    measure,
    top_imports,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per command (default 9)")
    parser.add_argument("--imports", type=int, default=0, metavar="N",
                        help="also print each command's N costliest packages and top-level imports before "
                        "its first simulation (python -X importtime)")
    parser.add_argument("--bytecode-cache", action="store_true",
                        help="read .pyc files (in a temporary PYTHONPYCACHEPREFIX), as an install does")
    parser.add_argument("command", nargs="*", help="npu-des arguments (default: the three start-up cases)")
    args = parser.parse_args(argv)
    commands = [tuple(args.command)] if args.command else [*COMMANDS, libraries_only()]
    cache = "with bytecode cache" if args.bytecode_cache else "environment as is"
    print(f"median of {args.repeats} runs ({cache}); target: first simulation (or exit) within "
          f"{TARGET_SECONDS} s")
    print(f"{'first simulation s':>18}  {'(CPU s)':>7}  {'wall s':>7}  {'(CPU s)':>7}  command")
    for command in commands:
        record = measure(command, args.repeats, args.bytecode_cache)
        fields = ("first_simulation_seconds", "first_simulation_cpu_seconds", "wall_seconds", "cpu_seconds")
        columns = [record.median(field) for field in fields]
        first, first_cpu, wall, cpu = ("-" if value is None else f"{value:.3f}" for value in columns)
        print(f"{first:>18}  {first_cpu:>7}  {wall:>7}  {cpu:>7}  {record.command}", flush=True)
        if args.imports:
            costs = import_profile(command, args.bytecode_cache)
            packages = ", ".join(f"{name} {us / 1000:.1f}" for name, us in by_package(costs)[:args.imports])
            print(f"{'':>18}  imports before the first simulation, own ms per package: {packages}")
            for cost in top_imports(costs, top=args.imports):
                print(f"{'':>18}  {cost.cumulative_us / 1000:5.1f} ms  import {cost.module} "
                      f"({cost.self_us / 1000:.1f} ms own)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
