"""Old import path of npu_des.sim.executor (per-core tile-task executors), kept for existing imports."""

from npu_des.sim.executor import (
    ComputeRecord,
    CoreExecutor,
    Synchronizer,
    Waiting,
)

__all__ = ["ComputeRecord", "CoreExecutor", "Synchronizer", "Waiting"]
