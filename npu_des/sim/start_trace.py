"""Start-up measurement: when the environment variable NPU_DES_TRACE_START names a file, the first
simulation of the process appends one line to it, the moment before the engine's clock starts: the
wall-clock time (`time.time()`, seconds since the epoch) and the CPU seconds the calling (main) thread
has used since it started (the threads a BLAS library starts do not count).

A parent that notes `time.time()` just before starting `npu-des ...` gets the time from process start
to the first simulated event: interpreter start-up, imports, input loading and the first plan
(npu_des/analysis/startup.py, benchmarks/startup.py); the CPU seconds are the same span without the
waits for a busy machine's other processes. Later simulations of the process write nothing.
"""

from __future__ import annotations

import os
import time

TRACE_START_ENV = "NPU_DES_TRACE_START"
_first = [True]  # a one-shot latch: only the process's first simulation is the start-up's end


def mark_first_simulation() -> None:
    """Append the wall-clock time and the thread's CPU seconds to $NPU_DES_TRACE_START, once per process."""
    if not _first[0]:
        return
    _first[0] = False
    path = os.environ.get(TRACE_START_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as trace:
            trace.write(f"{time.time():.6f} {time.thread_time():.6f}\n")
