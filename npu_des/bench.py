"""Old import path of npu_des.analysis.bench (the speed benchmark), kept for existing imports."""

from npu_des.analysis.bench import (
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_ORDERS,
    TARGET_SECONDS,
    BenchRecord,
    bench_case,
    counting_events,
    profile_case,
    run_bench,
)

__all__ = [
    "DEFAULT_HARDWARE",
    "DEFAULT_MODEL",
    "DEFAULT_ORDERS",
    "TARGET_SECONDS",
    "BenchRecord",
    "bench_case",
    "counting_events",
    "profile_case",
    "run_bench",
]
