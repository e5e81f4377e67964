"""Old import path of npu_des.analysis.oracle (the LRU / Belady SPM oracle), kept for existing imports."""

from npu_des.analysis.oracle import (
    NEVER,
    Access,
    OracleResult,
    access_sequence,
    replay,
    replay_schedule,
    slot_capacity,
)

__all__ = ["NEVER", "Access", "OracleResult", "access_sequence", "replay", "replay_schedule", "slot_capacity"]
