"""A training step (`run.pass: training`) is the forward run followed by the backward run, nothing more:
its bytes are theirs exactly, its time their sum, the backward order changes only the backward half."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npu_des.analysis.checks import check_run
from npu_des.analysis.explain import explain
from npu_des.cli import main
from npu_des.config import load_hardware, run_options
from npu_des.errors import ConfigError
from npu_des.kinds import DIRECTIONS, TensorKind
from npu_des.models import build_model
from npu_des.report.tables import write_run
from npu_des.sim.driver import simulate
from npu_des.sim.training import training_halves

ORDERS = ({"order": "sequential"}, {"order": "interleaved"}, {"order": "rearranged"},
          {"order": "rearranged", "partition": "weight-sharing"},
          {"order": "sequential", "baseline": "tuned"})


@pytest.fixture(scope="module")
def setup():
    return build_model("tiny_cnn", batch=2), load_hardware("micro23_small", ["spm.capacity_kb=64"])


@pytest.mark.parametrize("fields", ORDERS)
def test_step_is_the_forward_run_then_the_backward_run(setup, fields) -> None:
    workload, hw = setup
    step = simulate(workload, hw, run_options(pass_="training", batch=2, **fields))
    forward = simulate(workload, hw, run_options(pass_="forward", batch=2))
    backward = simulate(workload, hw, run_options(batch=2, **fields))
    for direction in DIRECTIONS:
        for kind in (*TensorKind,):
            assert step.dram_bytes[direction][kind] == (
                forward.dram_bytes[direction].get(kind, 0) + backward.dram_bytes[direction].get(kind, 0))
    assert step.total_cycles == forward.total_cycles + backward.total_cycles
    assert step.compute_cycles == forward.compute_cycles + backward.compute_cycles
    # dX and dW each cost one forward GEMM, except the first layer's dX, which is not computed
    assert step.macs == forward.macs + backward.macs == 3 * forward.macs - workload.layers[0].gemm.macs
    assert step.tasks == forward.tasks + backward.tasks
    for half in (forward, backward):  # no half beats its own compute bound, and the step holds both
        assert step.total_cycles >= half.total_cycles >= half.compute_cycles / hw.cores.count
    assert step.lower_bound_cycles == forward.lower_bound_cycles + backward.lower_bound_cycles
    assert step.summary()["passes"]["backward"]["total_cycles"] == backward.total_cycles
    assert step.order == backward.order and step.pass_name == "training"


def test_activations_cross_dram_as_the_paper_assumes(setup) -> None:
    """Every layer's Y is written by the forward half; the backward half reads X (its producers' Y)."""
    workload, hw = setup
    step = simulate(workload, hw, run_options(pass_="training", order="sequential", batch=2))
    forward, backward = step.passes["forward"], step.passes["backward"]
    for row in forward.layers:
        assert row.write_bytes[TensorKind.Y] > 0
    assert all(row.read_bytes[TensorKind.X] > 0 for row in backward.layers)
    assert step.dram_bytes["write"][TensorKind.Y] == forward.dram_bytes["write"][TensorKind.Y]


def test_the_forward_half_is_the_same_for_every_order(setup) -> None:
    workload, hw = setup
    forwards = [simulate(workload, hw, run_options(pass_="training", batch=2, **fields)).passes["forward"]
                for fields in ORDERS]
    assert len({json.dumps(half.summary(), sort_keys=True, default=str) for half in forwards}) == 1


def test_a_forward_half_can_be_reused_only_for_its_own_options(setup) -> None:
    workload, hw = setup
    first = simulate(workload, hw, run_options(pass_="training", order="sequential", batch=2))
    again = simulate(workload, hw, run_options(pass_="training", order="rearranged", batch=2),
                     forward=first.passes["forward"])
    fresh = simulate(workload, hw, run_options(pass_="training", order="rearranged", batch=2))
    assert again.total_cycles == fresh.total_cycles and again.passes["forward"] is first.passes["forward"]
    with pytest.raises(ValueError, match="other options"):
        simulate(workload, hw, run_options(pass_="training", batch=2, prefetch_depth=2),
                 forward=first.passes["forward"])


def test_backward_options_reach_only_the_backward_half() -> None:
    options = run_options(pass_="training", order="rearranged", partition="auto", vector_ops=True,
                          pins=("conv2:dY",), batch=3, prefetch_depth=2)
    forward, backward = training_halves(options)
    assert (forward.pass_, forward.order, forward.partition, forward.vector_ops, forward.pins) == (
        "forward", run_options().order, "none", False, ())
    assert (forward.batch, forward.prefetch_depth) == (3, 2)  # shared by both passes
    assert (backward.pass_, backward.order, backward.partition, backward.pins) == (
        "backward", "rearranged", "auto", ("conv2:dY",))


@pytest.mark.parametrize(("fields", "message"), [
    ({"fuse": ("auto",)}, "run.fuse is forward-only"),
    ({"pins": ("conv3:Y",)}, "forward pins conv3:Y are forward-only"),
    ({"pin_plan": "greedy"}, "run.pin_plan means a dY pin plan backward"),
])
def test_forward_only_options_are_refused_in_one_error(setup, fields, message) -> None:
    workload, hw = setup
    with pytest.raises(ConfigError, match=message) as error:
        simulate(workload, hw, run_options(pass_="training", **fields))
    assert "field 'run.pass': a training step runs both passes" in str(error.value)


def test_explained_step_adds_up_its_halves_energy_and_checks_clean(setup, tmp_path: Path) -> None:
    workload, hw = setup
    options = run_options(pass_="training", order="rearranged", batch=2)
    step = explain(simulate(workload, hw, options), workload, hw, options)
    halves = step.passes.values()
    energy = step.analyses["energy"]
    assert energy["total_pj"] == pytest.approx(sum(h.analyses["energy"]["total_pj"] for h in halves))
    assert energy["macs"] == step.macs
    bounds = step.analyses["bounds"]
    assert bounds["compute_bound_layers"] + bounds["memory_bound_layers"] == 2 * len(workload.layers)
    assert check_run(step, workload, hw, options) == []
    write_run(step, tmp_path)
    rows = (tmp_path / "layers.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[0] == "pass" and "read_Y" in header and "energy_pj" in header and "window_start" in header
    backward_rows = [row.split(",") for row in rows[1:] if row.startswith("backward,")]
    forward_end = step.passes["forward"].total_cycles
    assert len(backward_rows) == len(workload.layers)
    assert all(float(row[header.index("start")]) >= forward_end for row in backward_rows)  # shifted
    assert all(float(row[header.index("window_start")]) >= forward_end for row in backward_rows)
    times = [float(line.split(",")[1]) for line in (tmp_path / "timeline.csv").read_text().splitlines()[1:]]
    assert max(times) <= step.total_cycles and len(times) == sum(len(h.timeline) for h in halves)


def test_a_broken_half_is_named_by_the_check(setup) -> None:
    workload, hw = setup
    options = run_options(pass_="training", order="sequential", batch=2)
    step = simulate(workload, hw, options)
    step.passes["backward"].dram_bytes["read"][TensorKind.DY] += 1
    violations = check_run(step, workload, hw, options)
    assert any(line.startswith("backward half: bytes:") for line in violations)
    assert "training step read dY bytes are not the sum of its halves" in violations


def test_cli_training_step_prints_both_halves_and_exits_2_on_forward_only_options(capsys) -> None:
    assert main(["run", "--model", "tiny_cnn", "--order", "sequential,rearranged", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "training step (forward + backward)" in out
    assert "  forward time" in out and "  backward DRAM" in out and "backward alone" in out
    assert main(["run", "--model", "tiny_cnn", "--pass", "training", "--set", "run.fuse=auto"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("npu-des: error: field 'run.pass'") and err.count("\n") == 1
