"""Benchmark: render a whole ResNet-50 edge_dual timeline (both orders) as charts and traces.

    python benchmarks/bench_plot.py                 # simulate into a temporary folder first (~5 s)
    python benchmarks/bench_plot.py --dir /tmp/r50  # reuse `npu-des run --out /tmp/r50`

Reports wall seconds per step (best of --repeat) and peak memory: tracemalloc's peak of Python
allocations (numpy included) during a separate traced pass, and the process's peak RSS.
A benchmark to run by hand before and after a change, not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path


def simulate_into(directory: Path) -> None:
    from npu_des.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["run", "--model", "resnet50", "--hw", "edge_dual", "--out", str(directory), "--json"])
    if status != 0:
        sys.exit("simulation failed")


def steps(directory: Path) -> dict[str, Callable[[], object]]:
    from npu_des.report.gantt import draw_gantt
    from npu_des.report.layer_bars import draw_layer_bars
    from npu_des.report.saved import load_runs
    from npu_des.report.trace import write_trace

    runs = load_runs(directory)
    whole = (0.0, max(run.total_cycles for run in runs))
    return {
        "load results": lambda: load_runs(directory),
        "gantt png": lambda: draw_gantt(runs, whole, directory / "bench_gantt", ("png",)),
        "gantt svg": lambda: draw_gantt(runs, whole, directory / "bench_gantt", ("svg",)),
        "gantt png+svg": lambda: draw_gantt(runs, whole, directory / "bench_gantt", ("png", "svg")),
        "layer bars png+svg": lambda: draw_layer_bars(runs, directory / "bench_layer_bytes", ("png", "svg")),
        "traces (both orders)": lambda: [
            write_trace(run, run.directory / "bench_trace.json") for run in runs
        ],
    }


def peak_rss_mb() -> float:
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss is KiB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def main() -> None:
    from npu_des.report.saved import load_runs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, help="results of `npu-des run --out DIR` (default: simulate ResNet-50)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or Path(scratch)
        if args.dir is None:
            simulate_into(directory)
        start = time.perf_counter()
        import matplotlib.figure  # noqa: F401  (timed once: the first chart pays for it)

        print(f"import matplotlib: {time.perf_counter() - start:.2f} s")
        rss_before = peak_rss_mb()
        events = sum(len(run.timeline) for run in load_runs(directory))
        print(f"timeline events (all orders): {events:,}")
        for name, step in steps(directory).items():
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                step()
                times.append(time.perf_counter() - began)
            tracemalloc.start()
            step()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{name:22s} best {min(times):6.2f} s  median {sorted(times)[len(times) // 2]:6.2f} s  "
                f"traced peak {peak / 1e6:7.1f} MB"
            )
        print(
            f"peak RSS: {peak_rss_mb():.0f} MB (before rendering: {rss_before:.0f} MB, "
            "includes the simulation "
            f"when it ran in this process)"
        )


if __name__ == "__main__":
    main()
