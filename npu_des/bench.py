"""Old import path of npu_des.analysis.bench (the speed benchmark), kept for existing imports."""

from npu_des.analysis.bench import (
    BenchRecord,
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    DEFAULT_ORDERS,
    TARGET_SECONDS,
    bench_case,
    counting_events,
    profile_case,
    run_bench,
)

__all__ = ["BenchRecord", "DEFAULT_HARDWARE", "DEFAULT_MODEL", "DEFAULT_ORDERS", "TARGET_SECONDS", "bench_case", "counting_events", "profile_case", "run_bench"]
