"""Speed benchmark of the simulator itself: wall time, SimPy events per second, peak memory.

Timed runs are plain `simulate()` calls (best of N, so the number is the simulator, not the machine's
noise; the first run is reported too, since planning memoises tile shapes across runs in one process).
One extra, untimed run per case counts SimPy events (every `Environment.step`, i.e. every event
the scheduler processed: timeouts, process resumptions, resource grants, DMA/DRAM completions) and
measures peak Python heap with tracemalloc, which slows that run down and so is kept out of the timing.
"""

from __future__ import annotations

import cProfile
import io
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import Any

from npu_des.compiled import engine_build
from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.sim.clock import timed_events_run
from npu_des.sim.driver import simulate

DEFAULT_MODEL = "resnet50"
DEFAULT_HARDWARE = ("server_dual", "edge_dual")
DEFAULT_ORDERS = ("sequential", "interleaved")
TARGET_SECONDS = 2.0


@dataclass(frozen=True)
class BenchRecord:
    """One benchmark case: what was simulated and how fast."""

    model: str
    hardware: str
    order: str
    wall_seconds: float  # best of `repeats`
    first_wall_seconds: float  # the first run: cold caches (tile-shape search memo, imports done)
    wall_seconds_all: list[float]
    simulated_cycles: float
    tasks: int
    simpy_events: int  # SimPy events (timed queue entries) in the counting run
    events_per_second: float  # simpy_events / wall_seconds
    timeline_records: int
    dram_transfers: int
    peak_traced_mb: float  # tracemalloc peak during the counting run

    @property
    def under_target(self) -> bool:
        return self.wall_seconds < TARGET_SECONDS


@contextmanager
def counting_events() -> Iterator[list[int]]:
    """Count the SimPy events (timed queue entries) every clock runs while active; read after the block."""
    counter = [0]
    before = timed_events_run()
    try:
        yield counter
    finally:
        counter[0] = timed_events_run() - before


def bench_case(model: str, hardware: str, order: str, repeats: int = 3) -> BenchRecord:
    """Time one (model, hardware, order) run `repeats` times, then count its events and memory once."""
    workload = build_model(model)
    hw = load_hardware(hardware)
    options = run_options(order=order)
    walls = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = simulate(workload, hw, options)
        walls.append(time.perf_counter() - start)
    assert result is not None
    tracemalloc.start()
    try:
        with counting_events() as events:
            simulate(workload, hw, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    best = min(walls)
    return BenchRecord(
        model,
        hardware,
        order,
        best,
        walls[0],
        walls,
        result.total_cycles,
        result.tasks,
        events[0],
        events[0] / best if best else 0.0,
        len(result.timeline),
        result.dram_transfers,
        peak / 2**20,
    )


def run_bench(
    model: str = DEFAULT_MODEL,
    hardware: tuple[str, ...] = DEFAULT_HARDWARE,
    orders: tuple[str, ...] = DEFAULT_ORDERS,
    repeats: int = 3,
) -> dict[str, Any]:
    """All cases plus the environment they ran in, as a JSON-ready record."""
    records = [bench_case(model, hw, order, repeats) for hw in hardware for order in orders]
    return {
        "what": "npu-des simulate() wall time, best of repeats; events = SimPy events (timed queue entries)",
        "python": sys.version.split()[0],
        "simpy": version("simpy"),
        "engine": engine_build(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "repeats": repeats,
        "target_seconds": TARGET_SECONDS,
        "all_under_target": all(record.under_target for record in records),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "runs": [asdict(record) for record in records],
    }


def profile_case(
    model: str = DEFAULT_MODEL, hardware: str = "edge_dual", order: str = "interleaved", top: int = 25
) -> str:
    """cProfile of one run: the `top` functions by own time, then by cumulative time, as text."""
    workload, hw, options = build_model(model), load_hardware(hardware), run_options(order=order)
    profiler = cProfile.Profile()
    profiler.enable()
    simulate(workload, hw, options)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()
