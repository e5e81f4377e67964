"""Tile-level dependencies (`TileTask.after`): a task reads its operands only once every task it names has
computed and written its final output back; op-level dependencies keep working beside them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import break_component

from npu_des.analysis.checks import check_tile_dependencies
from npu_des.config import load_hardware, run_options
from npu_des.errors import SimulationStuck
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.sim.engine import run_schedule
from npu_des.sim.executor import Synchronizer


def tiny_plan():
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    options = run_options(order="sequential")
    schedule, pins = plan(workload, hw, options)
    return workload, hw, options, schedule, pins


def with_after(schedule, task_id: int, after: tuple[int, ...]):
    tasks = list(schedule.tasks)
    tasks[task_id] = replace(tasks[task_id], after=after)
    return replace(schedule, tasks=tuple(tasks))


def compute_of(result, task):
    tile = ".".join(map(str, task.tile))
    return next(e for e in result.timeline if e.resource == f"core{task.core}.array"
                and (e.layer, e.op, e.tile) == (task.layer, task.op, tile))


def write_back_of(result, task, after: float):
    tile = ".".join(map(str, task.output.key[2:]))
    return min((e for e in result.timeline if e.resource.endswith(".dma") and e.direction == "write"
                and (e.layer, e.kind, e.tile) == (task.layer, task.output.kind, tile) and e.start >= after),
               key=lambda e: e.start)


def pair(schedule):
    """A final dW task on core 0 and the dW task of the same layer on core 1, which computes beside it."""
    first = next(t for t in schedule.tasks if t.core == 0 and t.op == "dW" and t.last and t.write_back)
    second = next(t for t in schedule.tasks if t.core == 1 and t.layer == first.layer and t.op == first.op
                  and t.id > first.id)
    return first, second


def test_task_with_after_starts_only_once_the_write_back_on_another_core_lands():
    workload, hw, options, schedule, pins = tiny_plan()
    first, second = pair(schedule)
    free = run_schedule(workload, hw, options, schedule, pins)
    free_write = write_back_of(free, first, compute_of(free, first).end)
    assert compute_of(free, second).start < free_write.end  # without the dependency it would overlap
    bound = run_schedule(workload, hw, options, with_after(schedule, second.id, (first.id,)), pins)
    landed = write_back_of(bound, first, compute_of(bound, first).end).end
    assert compute_of(bound, second).start >= landed
    assert check_tile_dependencies(with_after(schedule, second.id, (first.id,)),
                                   [e for e in bound.timeline if e.resource.endswith(".array")],
                                   [e for e in bound.timeline if e.resource.endswith(".dma")]) == []


def test_checker_names_a_task_that_ignored_its_after(monkeypatch):
    workload, hw, options, schedule, pins = tiny_plan()
    first, second = pair(schedule)
    bound = with_after(schedule, second.id, (first.id,))
    break_component(monkeypatch, Synchronizer, "wait_after", lambda self, task, then: True)  # ignores `after`
    result = run_schedule(workload, hw, options, bound, pins)
    computes = [e for e in result.timeline if e.resource.endswith(".array")]
    transfers = [e for e in result.timeline if e.resource.endswith(".dma")]
    violations = check_tile_dependencies(bound, computes, transfers)
    assert len(violations) == 1 and violations[0].startswith("tile dependencies:")
    assert f"task {first.id}" in violations[0]


def test_after_and_op_dependencies_on_several_cores_finish_without_deadlock():
    workload, hw, options, schedule, pins = tiny_plan()
    # every task of the second layer also waits for every final task of the first layer, on both cores
    first_layer = schedule.tasks[0].layer
    finals = tuple(t.id for t in schedule.tasks if t.layer == first_layer and t.last)
    tasks = tuple(replace(t, after=finals) if t.id > max(finals) and t.layer != first_layer else t
                  for t in schedule.tasks)
    bound = replace(schedule, tasks=tasks)
    result = run_schedule(workload, hw, options, bound, pins)
    assert result.tasks == len(tasks)
    computes = [e for e in result.timeline if e.resource.endswith(".array")]
    transfers = [e for e in result.timeline if e.resource.endswith(".dma")]
    assert check_tile_dependencies(bound, computes, transfers) == []


def test_after_naming_a_later_task_on_the_same_core_is_a_named_deadlock():
    workload, hw, options, schedule, pins = tiny_plan()
    later = next(t for t in schedule.tasks if t.core == 0 and t.id > 0)
    with pytest.raises(SimulationStuck, match="its `after`"):
        run_schedule(workload, hw, options, with_after(schedule, 0, (later.id,)), pins)


def test_after_naming_no_task_is_refused():
    workload, hw, options, schedule, pins = tiny_plan()
    with pytest.raises(ValueError, match="names no other task"):
        run_schedule(workload, hw, options, with_after(schedule, 3, (len(schedule.tasks),)), pins)
