"""The schedule a finished run executed, planned again from its inputs and the per-layer choices it
recorded: what the invariant checks (checks.py) and the bounds and energy (explain.py) replay."""

from __future__ import annotations

from npu_des.config import HardwareConfig, LayerChoice, RunOptions
from npu_des.metrics import RunResult
from npu_des.schedule.plan import plan
from npu_des.schedule.tasks import Schedule
from npu_des.workload import Workload

__all__ = ["rebuild_schedule", "replay_options"]


def rebuild_schedule(
    result: RunResult, workload: Workload, hw: HardwareConfig, options: RunOptions
) -> Schedule:
    """The schedule the run should have executed, planned again from its inputs (no SimPy), with the
    per-layer choices the run recorded (what its driver resolved by simulation)."""
    return plan(workload, hw, replay_options(result, options))[0]


def replay_options(result: RunResult, options: RunOptions) -> RunOptions:
    """`options` with the per-layer choices of `result` (access order, partitions, core mapping, the
    sequential baseline's tiles) fixed."""
    fields = ("access", "partition", "partitions", "core_mapping", "baseline")
    choices = {  # partitions that Algorithm 1 gave different orders ("a/b") get them again from it
        name: LayerChoice.model_validate(
            {key: choice[key] for key in fields if key in choice and "/" not in choice[key]})
        for name, choice in result.choices.items()
        if any(key in choice for key in fields)
    }
    return options.model_copy(update={"layer_choices": choices}) if choices else options
