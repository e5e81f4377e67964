"""Prefetch counts steps that load: whatever the SPM size, fraction of it for tiles, look-ahead depth and
order, every run finishes (no SimulationStuck) and passes every invariant."""

from __future__ import annotations

import os

import pytest
from conftest import make_hw
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from npu_des.analysis.checks import check_run
from npu_des.config import run_options
from npu_des.errors import ConfigError
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate

SCALE = float(os.environ.get("NPU_DES_FUZZ_SCALE", "1"))
ORDERS = {"sequential": {"order": "sequential"}, "interleaved": {"order": "interleaved"},
          "interleaved-auto": {"order": "interleaved", "loop_order": "auto"},
          "interleaved-knm": {"order": "interleaved", "loop_order": "knm"}}


@settings(max_examples=int(40 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["tiny_cnn", "linear"]),
    capacity_kb=st.sampled_from([6, 8, 12, 16, 24, 48, 128]),
    fraction=st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.9]),
    depth=st.integers(0, 4),
    order=st.sampled_from(sorted(ORDERS)),
    cores=st.integers(1, 2),
    policy=st.sampled_from(["lru", "explicit"]),
    bandwidth=st.sampled_from([0.5, 8.0, 200.0]),
)
def test_every_prefetch_configuration_finishes_and_passes_the_checks(model, capacity_kb, fraction, depth,
                                                                     order, cores, policy, bandwidth):
    workload = build_model("tiny_cnn") if model == "tiny_cnn" else single_linear(96, 80, 72)
    hw = make_hw(f"cores.count={cores}", f"spm.capacity_kb={capacity_kb}", f"spm.policy={policy}",
                 f"dram.bandwidth_gbps={bandwidth}")
    try:
        settings_ = [f"run.spm_fraction={fraction}", f"run.prefetch_depth={depth}"]
        options = run_options(settings_, **ORDERS[order])
        result = simulate(workload, hw, options)  # SimulationStuck would fail the test
    except ConfigError:
        assume(False)  # no tile shape fits this SPM: refused at plan time, as it should be
        return
    assert check_run(result, workload, hw, options) == []


def three_task_schedule(second_loads: bool):
    """A; B accumulating into A's output from A's own operands (or, if `second_loads`, from other tiles);
    C on tiles of its own. One core, prefetch depth 1."""
    from dataclasses import replace

    from npu_des.schedule.plan import plan

    workload = single_linear(64, 64, 64)
    hw = make_hw("cores.count=1", "spm.capacity_kb=256", "dram.bandwidth_gbps=1")
    options = run_options(["run.prefetch_depth=1"], order="sequential", tile={"m": 16, "n": 16, "k": 16})
    schedule, pins = plan(workload, hw, options)
    dx = [t for t in schedule.tasks if t.layer == "layer" and t.op == "dX"]
    a = dx[0]
    second = next(t for t in dx if t.output.key == a.output.key and t.id != a.id) if second_loads else a
    taken = {r.key for r in (*a.inputs, a.output, *second.inputs)}
    other = next(t for t in dx if not {r.key for r in (*t.inputs, t.output)} & taken)
    tasks = (replace(a, id=0, core=0, first=True, last=False, prev=-1),
             replace(a, id=1, core=0, inputs=second.inputs, first=False, last=True, prev=0),
             replace(other, id=2, core=0, first=True, last=True, prev=-1))
    return workload, hw, options, replace(schedule, tasks=tasks, op_deps={}), pins


@pytest.mark.parametrize("second_loads", [False, True])
def test_a_task_that_loads_nothing_does_not_use_up_the_look_ahead(second_loads):
    from npu_des.sim.engine import run_schedule

    workload, hw, options, schedule, pins = three_task_schedule(second_loads)
    result = run_schedule(workload, hw, options, schedule, pins)
    first_compute = min((e for e in result.timeline if e.resource == "core0.array"), key=lambda e: e.start)
    c = schedule.tasks[2]
    tiles_of_c = {(r.kind, ".".join(map(str, r.key[2:]))) for r in c.inputs}
    c_loads = [e for e in result.timeline if e.resource == "core0.dma" and e.direction == "read"
               and (e.kind, e.tile) in tiles_of_c]
    assert len(c_loads) == len(c.inputs)
    # B loads nothing: C is the one step ahead and loads while A computes; if B loads, C waits for A
    assert (min(e.start for e in c_loads) < first_compute.end) is (not second_loads)
