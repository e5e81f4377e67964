"""The simulation: SimPy components, per-core executors, the engine that runs a plan, result collection.

`simulate` (driver.py) is the entry point; `plan` (npu_des.schedule.plan) is re-exported here because
callers pair it with `simulate` (plan a run, then inspect or simulate it).
"""

from npu_des.schedule.plan import check_task_count, plan, resolve_pins
from npu_des.sim.collect import order_label
from npu_des.sim.driver import simulate

__all__ = ["check_task_count", "order_label", "plan", "resolve_pins", "simulate"]
