"""The benchmark matrix: every zoo model on every preset (default batch), ResNet-50 at training batches.

Each case runs in a fresh Python process, so its peak RSS is its own and every case starts equally
cold (tile-shape memo empty). A worker plans the case first and skips it when it has more tile tasks
than `max_tasks` (so a quick matrix stays quick; the skip is recorded and printed). It then times
`repeats` plain `simulate()` calls (best counts) and counts SimPy events (`Environment.step` calls) in
one more run. Only `simulate`, `plan`, `build_model`, `load_hardware` and `run_options` are used, so
the same file measures an older tree (PYTHONPATH) for a before/after record taken in one session:
machines are noisy, so compare ratios measured together (`compare`), not absolute times.
"""

from __future__ import annotations

import json
import math
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

ORDERS = ("sequential", "interleaved")
TRAINING_BATCHES = (8, 32)
SMALL_NPU = ("ethos_n77", ("spm.capacity_kb=1024",))  # MICRO'23's small NPU until a preset exists
DEFAULT_MAX_TASKS = 60_000


@dataclass(frozen=True)
class Case:
    """One matrix entry: a zoo model at a batch on a preset (plus overrides), in one order."""

    model: str
    hardware: str
    batch: int
    order: str
    overrides: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        extra = "".join(f" {o}" for o in self.overrides)
        return f"{self.model} b{self.batch} {self.hardware}{extra} {self.order}"


@dataclass
class CaseRecord:
    """What one case measured; `skipped` says why it did not run (then only `tasks` is set)."""

    case: dict[str, Any]
    tasks: int = 0
    wall_seconds: float = 0.0  # best of repeats, simulate() including planning
    cpu_seconds: float = 0.0  # best of repeats, process CPU time: steadier than wall on a shared machine
    tasks_per_second: float = 0.0  # per CPU second
    simpy_events: int = 0
    events_per_task: float = 0.0
    peak_rss_mb: float = 0.0  # the worker process's max RSS over all its runs
    simulated_cycles: float = 0.0  # to see that old and new trees simulated the same thing
    skipped: str = ""
    walls: list[float] = field(default_factory=list)


def matrix_cases(models: Iterable[str], presets: Iterable[str]) -> list[Case]:
    """Every model x preset at batch 1, ResNet-50 at batch 8 and 32 on every preset, the small NPU at 8."""
    presets = list(presets)
    cases = [Case(model, hw, 1, order) for hw in presets for model in models for order in ORDERS]
    cases += [Case("resnet50", hw, batch, order) for hw in presets for batch in TRAINING_BATCHES
              for order in ORDERS]
    if "micro23_small" not in presets:
        cases += [Case("resnet50", SMALL_NPU[0], 8, order, SMALL_NPU[1]) for order in ORDERS]
    return cases


def run_case(case: Case, repeats: int, max_tasks: int) -> CaseRecord:
    """Plan, then time and count one case in this process (the worker side)."""
    from npu_des.analysis.bench import counting_events
    from npu_des.config import load_hardware, run_options
    from npu_des.models import build_model
    from npu_des.schedule.plan import plan
    from npu_des.sim.driver import simulate

    workload = build_model(case.model, batch=case.batch)
    hw = load_hardware(case.hardware, list(case.overrides))
    options = run_options(order=case.order, batch=case.batch)
    record = CaseRecord(asdict(case))
    record.tasks = len(plan(workload, hw, options)[0].tasks)
    if max_tasks and record.tasks > max_tasks:
        record.skipped = f"{record.tasks} tasks > --max-tasks {max_tasks}"
        return record
    cpus = []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        result = simulate(workload, hw, options)
        record.walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    with counting_events() as events:
        simulate(workload, hw, options)
    record.wall_seconds = min(record.walls)
    record.cpu_seconds = min(cpus)
    record.tasks_per_second = record.tasks / max(record.cpu_seconds, 1e-9)
    record.simpy_events = events[0]
    record.events_per_task = events[0] / record.tasks
    record.simulated_cycles = result.total_cycles
    record.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return record


def run_matrix(cases: list[Case], repeats: int, max_tasks: int,
               report: Callable[[CaseRecord], None] = lambda _r: None) -> dict[str, Any]:
    """Each case in its own worker process, one at a time; the JSON-ready record of all of them."""
    records = []
    for case in cases:
        argv = [sys.executable, "-m", "npu_des.analysis.bench_matrix",
                json.dumps(asdict(case)), str(repeats), str(max_tasks)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            record = CaseRecord(asdict(case), skipped=f"failed: {lines[-1]}")
        else:
            record = CaseRecord(**json.loads(done.stdout))
        records.append(record)
        report(record)
    from npu_des.compiled import engine_build

    ran = [r for r in records if not r.skipped]
    return {
        "what": "npu-des bench --matrix: simulate() wall and CPU s (best of repeats, planning included), "
                "tasks per CPU s, SimPy events (timed queue entries) per tile task, worker peak RSS; "
                "one process per case",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "engine": engine_build(),
        "repeats": repeats,
        "max_tasks": max_tasks,
        "total_wall_seconds": sum(r.wall_seconds for r in ran),
        "total_cpu_seconds": sum(r.cpu_seconds for r in ran),
        "events_per_task": sum(r.simpy_events for r in ran) / max(1, sum(r.tasks for r in ran)),
        "cases": [asdict(r) for r in records],
    }


def _key(case: dict[str, Any]) -> tuple[Any, ...]:
    return (case["model"], case["hardware"], case["batch"], case["order"], tuple(case.get("overrides", ())))


Comparison = tuple[str, float, float, float, str]  # label, speed-up, old and new events/task, note


def compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[Comparison], float]:
    """Per case both ran: (label, speed-up in tasks per CPU s, or per wall s if the old record has no CPU
    times, old events/task, new events/task, note); geomean."""
    old_cases = {_key(c["case"]): c for c in old["cases"] if not c["skipped"]}
    rows = []
    for entry in new["cases"]:
        before = old_cases.get(_key(entry["case"]))
        if entry["skipped"] or before is None:
            continue
        note = "" if before["simulated_cycles"] == entry["simulated_cycles"] else "SIMULATED CYCLES DIFFER"
        if before.get("cpu_seconds"):
            speedup = before["cpu_seconds"] / max(entry["cpu_seconds"], 1e-9)
        else:
            speedup = before["wall_seconds"] / max(entry["wall_seconds"], 1e-9)
        rows.append((Case(**{**entry["case"], "overrides": tuple(entry["case"]["overrides"])}).label, speedup,
                     before["events_per_task"], entry["events_per_task"], note))
    geomean = math.exp(sum(math.log(row[1]) for row in rows) / len(rows)) if rows else 0.0
    return rows, geomean


if __name__ == "__main__":  # worker: python -m npu_des.analysis.bench_matrix CASE_JSON REPEATS MAX_TASKS
    data = json.loads(sys.argv[1])
    case = Case(**{**data, "overrides": tuple(data["overrides"])})
    sys.stdout.write(json.dumps(asdict(run_case(case, int(sys.argv[2]), int(sys.argv[3])))) + "\n")
