"""Old import path of npu_des.analysis.checks (post-hoc invariant checks), kept for existing imports."""

from npu_des.analysis.checks import (
    MAX_PER_CHECK,
    check_byte_conservation,
    check_dependencies,
    check_lower_bounds,
    check_one_tile_at_a_time,
    check_partial_sum_hazards,
    check_partial_sum_order,
    check_run,
    check_spm,
    check_tiles,
    check_transfers,
    compulsory_bytes,
    expected_cycles,
    rebuild_schedule,
)

__all__ = [
    "MAX_PER_CHECK",
    "check_byte_conservation",
    "check_dependencies",
    "check_lower_bounds",
    "check_one_tile_at_a_time",
    "check_partial_sum_hazards",
    "check_partial_sum_order",
    "check_run",
    "check_spm",
    "check_tiles",
    "check_transfers",
    "compulsory_bytes",
    "expected_cycles",
    "rebuild_schedule",
]
