"""Old import path of npu_des.sweep.table (a sweep's durable result table), kept for existing imports."""

from npu_des.sweep.table import (
    CSV,
    JOURNAL,
    LEADING,
    MANIFEST,
    MEASURES,
    PARQUET,
    SweepTable,
    canonical_key,
    load_sweep,
    to_frame,
)

__all__ = [
    "CSV",
    "JOURNAL",
    "LEADING",
    "MANIFEST",
    "MEASURES",
    "PARQUET",
    "SweepTable",
    "canonical_key",
    "load_sweep",
    "to_frame",
]
