"""Schedules: layer graphs + tile grids -> tile tasks in issue order, and the plan of a run (no SimPy here).

`plan.plan` ties the steps together: tiles (npu_des.tiling), the backward (`backward`, `orders`) or
forward (`forward`, `fusion`) schedule, and pins (`pinning`, `planner`), every capacity check done
before any simulation.
"""

from npu_des.schedule.backward import build_schedule
from npu_des.schedule.orders import PARTITIONS
from npu_des.schedule.tasks import VECTOR_OP, OpId, Schedule, TileRef, TileTask

__all__ = ["PARTITIONS", "VECTOR_OP", "OpId", "Schedule", "TileRef", "TileTask", "build_schedule"]
