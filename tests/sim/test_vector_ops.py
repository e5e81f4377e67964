"""Non-GEMM backward ops (BN/activation/softmax) on the vector unit: traffic, cycles, ordering, switch."""

from __future__ import annotations

from math import ceil

import pytest
from conftest import make_hw

from npu_des.cli import main
from npu_des.config import run_options
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate

ORDERS = ("sequential", "interleaved")


@pytest.fixture(scope="module")
def runs():
    hw = make_hw("cores.count=2", "spm.capacity_kb=65536", "cores.vector.elements_per_cycle=8",
                 "cores.vector.startup_cycles=5")
    workload = build_model("tiny_cnn")
    out = {}
    for order in ORDERS:
        options = run_options(order=order, vector_ops=True)
        out[order] = (workload, hw, options, simulate(workload, hw, options))
    return out


@pytest.mark.parametrize("order", ORDERS)
def test_each_layer_below_the_loss_reads_saved_y_and_rewrites_dy_once(runs, order):
    workload, hw, options, result = runs[order]
    schedule, _ = plan(workload, hw, options)
    for row in result.layers:
        dy_bytes = schedule.grids[row.layer].compulsory_bytes()["dY"]
        has_vector = row.layer != "fc"  # fc's dY comes straight from the loss
        assert row.read_bytes["Y"] == (dy_bytes if has_vector else 0)
        assert row.write_bytes["dY"] == (dy_bytes if has_vector else 0)
        assert row.read_bytes["dY"] == dy_bytes  # read once: the GEMMs hit the rewritten tiles in the SPM


@pytest.mark.parametrize("order", ORDERS)
def test_vector_cycles_follow_the_rate_and_run_on_the_vector_unit(runs, order):
    workload, hw, options, result = runs[order]
    schedule, _ = plan(workload, hw, options)
    vector_tasks = [task for task in schedule.tasks if task.op == "vector"]
    assert result.vector_cycles == sum(5 + ceil(task.macs / 8) for task in vector_tasks) > 0
    events = [e for e in result.timeline if e.op == "vector"]
    assert len(events) == len(vector_tasks) and all(e.resource.endswith(".vector") for e in events)
    assert result.total_cycles >= result.lower_bound_cycles


@pytest.mark.parametrize("order", ORDERS)
def test_gemms_start_only_after_their_layers_vector_op(runs, order):
    *_, result = runs[order]
    vector_end: dict[str, float] = {}
    for event in result.timeline:
        if event.op == "vector":
            vector_end[event.layer] = max(vector_end.get(event.layer, 0.0), event.end)
    for event in result.timeline:
        if event.resource.endswith(".array") and event.layer in vector_end:
            assert event.start >= vector_end[event.layer]


def test_switch_off_adds_nothing():
    hw = make_hw("cores.count=2")
    plain = simulate(build_model("tiny_cnn"), hw, run_options(order="sequential"))
    assert plain.vector_cycles == 0 and "Y" not in plain.dram_bytes["read"]


def test_vector_rate_must_be_positive(capsys):
    assert main(["run", "--model", "tiny_cnn", "--set", "cores.vector.elements_per_cycle=0"]) == 2
    assert "field 'cores.vector.elements_per_cycle'" in capsys.readouterr().err
