"""Start-up time of the command line: from process start to the first simulated event, and in total.

"Start" is the parent's `time.time()` just before it starts `python -m npu_des ARGS` (so interpreter
start-up, site, imports, input loading and the first plan all count); "first simulation" is the time
the child notes the moment before the engine's clock starts (npu_des/sim/start_trace.py, through
$NPU_DES_TRACE_START); "wall" is until the child has exited. Each command runs `repeats` times after
one untimed run; the median counts. The child inherits the environment, so with PYTHONDONTWRITEBYTECODE
set every npu_des module compiles from source on each start; `bytecode_cache=True` measures what an
installed package does instead (bytecode written by the untimed run into a temporary
PYTHONPYCACHEPREFIX, then read). CPU seconds are reported beside wall seconds (to the mark: the
child's main thread; in total: the whole child), since on a busy machine they move less.
`import_profile` reads `python -X importtime` for the costliest imports. `LIBRARIES` is the floor under
all of it: a bare interpreter importing the libraries the simulation path needs.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from npu_des.sim.start_trace import TRACE_START_ENV

TINY_RUN = ("run", "--model", "tiny_cnn")
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    TINY_RUN,
    (*TINY_RUN, "--pass", "backward", "--hw", "edge_dual"),
)
BENCH_COMMAND = COMMANDS[2]  # the start-up line of `npu-des bench`
TARGET_SECONDS = 0.3  # the start-up goal: `--help` and a tiny_cnn run reach their work within this
# what a run imports before it simulates and npu-des does not own: the configuration's validation,
# presets' YAML, the workload DAG, the tiler's shape scoring, the event loop
LIBRARIES = ("pydantic.main", "yaml", "networkx", "numpy", "simpy")


@dataclass(frozen=True)
class Sample:
    """One run of a command: seconds to the first simulation (None: it simulated nothing) and to its exit,
    each as wall-clock and as CPU seconds (to the first simulation: the main thread; to exit: the process)."""

    first_simulation_seconds: float | None
    first_simulation_cpu_seconds: float | None
    wall_seconds: float
    cpu_seconds: float


@dataclass(frozen=True)
class StartupRecord:
    """One command's runs and their medians (seconds)."""

    argv: tuple[str, ...]
    samples: list[Sample]

    @property
    def command(self) -> str:
        if self.argv[:1] == ("-c",):
            return f"python -c '{self.argv[1]}'"
        return " ".join(("npu-des", *self.argv))

    def median(self, field: str) -> float | None:
        """The median of one Sample field over the runs that have it (None if none has)."""
        values = [getattr(sample, field) for sample in self.samples if getattr(sample, field) is not None]
        return statistics.median(values) if values else None

    @property
    def start_seconds(self) -> float:
        """What the target is about: wall time to the first simulation, or the whole command if none."""
        first = self.median("first_simulation_seconds")
        return first if first is not None else statistics.median(s.wall_seconds for s in self.samples)


    def summary(self) -> dict[str, Any]:
        """Medians as a JSON-ready record (None where the command has no simulation)."""
        fields = ("first_simulation_seconds", "first_simulation_cpu_seconds", "wall_seconds", "cpu_seconds")
        return {"command": self.command, "runs": len(self.samples), "target_seconds": TARGET_SECONDS,
                **{field: self.median(field) for field in fields}}


def child_environment(folder: Path, bytecode_cache: bool) -> dict[str, str]:
    """The measured process's environment: ours, with (if asked) bytecode caching into `folder`."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # the child runs this npu_des, not another
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _interpreter_arguments(argv: tuple[str, ...]) -> list[str]:
    """`npu-des ARGV` as `python -m npu_des ARGV`; ("-c", CODE) stays a plain `python -c CODE`."""
    return list(argv) if argv[:1] == ("-c",) else ["-m", "npu_des", *argv]


def _run_once(argv: tuple[str, ...], trace: Path, env: dict[str, str]) -> Sample:
    """One `python -m npu_des ARGV`, timed from just before it starts."""
    trace.write_text("")
    env = {**env, TRACE_START_ENV: str(trace)}
    cpu = _children_cpu_seconds()
    start = time.time()
    done = subprocess.run([sys.executable, *_interpreter_arguments(argv)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env, check=False)
    wall = time.time() - start
    cpu = _children_cpu_seconds() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"npu-des {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    marks = trace.read_text().split()
    if not marks:
        return Sample(None, None, wall, cpu)
    return Sample(float(marks[0]) - start, float(marks[1]), wall, cpu)


def measure(argv: tuple[str, ...], repeats: int = 9, bytecode_cache: bool = False) -> StartupRecord:
    """Run `npu-des ARGV` (or `python -c CODE` for ("-c", CODE)) once untimed, then `repeats` times."""
    with tempfile.TemporaryDirectory(prefix="npu-des-startup-") as name:
        folder = Path(name)
        env = child_environment(folder, bytecode_cache)
        _run_once(argv, folder / "first_simulation", env)
        samples = [_run_once(argv, folder / "first_simulation", env) for _ in range(repeats)]
    return StartupRecord(argv, samples)


@dataclass(frozen=True)
class ImportCost:
    """One line of `python -X importtime`: a module, its own and its cumulative import time."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0: imported by the program itself, not by another module


def import_profile(argv: tuple[str, ...], bytecode_cache: bool = False) -> list[ImportCost]:
    """The imports one `python -X importtime -m npu_des ARGV` (after an untimed one) makes before its first
    simulation (all of them if it simulates nothing), in the order Python reports them."""
    with tempfile.TemporaryDirectory(prefix="npu-des-imports-") as name:
        # the mark goes into the same stream as Python's import lines, so its place among them shows
        env = {**child_environment(Path(name), bytecode_cache), TRACE_START_ENV: "/dev/stderr"}
        for _ in range(2):
            done = subprocess.run([sys.executable, "-X", "importtime", *_interpreter_arguments(argv)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  check=False)
    return parse_importtime(done.stderr)


def parse_importtime(text: str) -> list[ImportCost]:
    """The `import time:` lines of `text` up to a first-simulation mark (two numbers on a line), if any;
    other lines (the command's own stderr) are skipped."""
    costs = []
    for line in text.splitlines():
        if _is_mark(line):
            break
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        costs.append(ImportCost(name.strip(), int(own), int(cumulative),
                                (len(name) - len(name.lstrip()) - 1) // 2))
    return costs


def _is_mark(line: str) -> bool:
    try:
        return len([float(value) for value in line.split()]) == 2
    except ValueError:
        return False


def by_package(costs: list[ImportCost]) -> list[tuple[str, int]]:
    """Own import time summed per top-level package (npu_des, numpy, ...), microseconds, costliest first."""
    totals: dict[str, int] = {}
    for cost in costs:
        package = cost.module.partition(".")[0]
        totals[package] = totals.get(package, 0) + cost.self_us
    return sorted(totals.items(), key=lambda item: -item[1])


def top_imports(costs: list[ImportCost], depth: int = 0, top: int = 12) -> list[ImportCost]:
    """The `top` costliest imports at `depth` or shallower, by cumulative time."""
    return sorted((c for c in costs if c.depth <= depth), key=lambda c: -c.cumulative_us)[:top]


def libraries_only() -> tuple[str, ...]:
    """The floor's command: ("-c", "import pydantic.main, yaml, ...")."""
    return ("-c", f"import {', '.join(LIBRARIES)}")
