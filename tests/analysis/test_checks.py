"""The invariant checker (npu_des.checks) passes on real runs and catches deliberately broken components;
a deadlocked schedule ends with SimulationStuck naming the stuck tasks, not a hang."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
from collections.abc import Iterator

import pytest
from conftest import break_component

import npu_des.schedule.plan
from npu_des.analysis.checks import check_run
from npu_des.cli import main
from npu_des.config import HardwareConfig, RunOptions, load_hardware, run_options
from npu_des.errors import SimulationStuck
from npu_des.metrics import RunResult
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.sim.components import DramChannel, Scratchpad, SystolicArray
from npu_des.sim.driver import simulate
from npu_des.workload import Workload, conv


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a stuck-run detector that loops forever is itself the bug under test."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def single_conv() -> Workload:
    """One 3x3 conv reading a 1x1 producer, so both gradient ops exist and X tiles carry halos."""
    return Workload("single_conv", (conv("stem", (), (3, 8, 8), 8, 1),
                                    conv("conv", ("stem",), (8, 8, 8), 16, 3)))


WORKLOADS = {"tiny_cnn": lambda: build_model("tiny_cnn"), "single_linear": lambda: single_linear(48, 40, 56),
             "single_conv": single_conv}


def run_and_check(workload: Workload, hw: HardwareConfig, options: RunOptions) -> tuple[RunResult, list[str]]:
    result = simulate(workload, hw, options)
    return result, check_run(result, workload, hw, options)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
@pytest.mark.parametrize("order", ["sequential", "interleaved"])
@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("preset", ["edge_dual", "ethos_n77"])
def test_checker_passes_on_real_runs(name, order, cores, preset):
    workload = WORKLOADS[name]()
    hw = load_hardware(preset, [f"cores.count={cores}"])
    options = run_options(order=order)
    _, violations = run_and_check(workload, hw, options)
    assert violations == []


@pytest.mark.parametrize("extra", [{"core_mapping": "m"}, {"core_mapping": "n"}, {"core_mapping": "op"},
                                   {"loop_order": "auto"}, {"loop_order": "knm", "prefetch_depth": 2},
                                   {"pins": ("conv3:W",)}])
def test_checker_passes_on_fused_variants(extra):
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual")
    options = run_options(order="fused", **extra)
    _, violations = run_and_check(workload, hw, options)
    assert violations == []


@pytest.mark.parametrize("settings", [
    ["run.vector_ops=true"],
    ["cores.array.dataflow={dX: ws, dW: os}", "cores.array.reconfiguration_cycles=40"],
    ["cores.array.stationary_reuse=true", "cores.array.dataflow={dX: ws, dW: os}"],
    ["cores.array.zero_skipping=true", "run.density=0.3"],
    ["run.pass=forward"],
])
def test_checker_passes_with_array_features_vector_ops_and_forward_pass(settings):
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual", [item for item in settings if not item.startswith("run.")])
    for order in ("sequential", "interleaved"):
        options = run_options(settings, order=order)
        _, violations = run_and_check(workload, hw, options)
        assert violations == []


@pytest.mark.parametrize("model", ["tiny_cnn", "resnet50"])
def test_checker_passes_on_fused_forward_runs(model):
    workload = build_model(model)
    hw = load_hardware("edge_dual")
    options = run_options(["run.pass=forward", "run.fuse=[auto]"])
    _, violations = run_and_check(workload, hw, options)
    assert violations == []


def test_fused_forward_run_reports_the_lower_bound_of_its_plan():
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual")
    options = run_options(["run.pass=forward", "run.fuse=[auto]"])
    result, violations = run_and_check(workload, hw, options)
    assert [line for line in violations if line.startswith("bound:")] == []
    assert result.lower_bound_cycles <= result.total_cycles


def test_checker_passes_under_spm_pressure_with_lru_evictions():
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual", ["spm.capacity_kb=16"])
    for order in ("sequential", "interleaved"):
        options = run_options(order=order)
        result, violations = run_and_check(workload, hw, options)
        assert result.spm_evictions > 0
        assert violations == []


# --- a broken component is caught -------------------------------------------------------------

def tiny_edge() -> tuple[Workload, HardwareConfig, RunOptions]:
    return build_model("tiny_cnn"), load_hardware("edge_dual"), run_options(order="interleaved")


def test_checker_catches_dram_channel_that_double_counts_bytes(monkeypatch):
    original = DramChannel.start  # every DMA transfer goes through it

    def double_counting(self, nbytes, kind, direction, finished):
        self.bytes[(kind, direction)] = self.bytes.get((kind, direction), 0) + nbytes
        return original(self, nbytes, kind, direction, finished)

    break_component(monkeypatch, DramChannel, "start", double_counting)
    _, violations = run_and_check(*tiny_edge())
    assert any(line.startswith("bytes: DMA transfers read") and "DRAM channel counted" in line
               for line in violations)


def test_checker_catches_spm_that_over_allocates(monkeypatch):
    def make_room_without_waiting(self, nbytes, dma):
        return True  # never evicts and never waits

    break_component(monkeypatch, Scratchpad, "_make_room", make_room_without_waiting)
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual", ["spm.capacity_kb=16"])
    options = run_options(order="sequential")
    _, violations = run_and_check(workload, hw, options)
    assert any(line.startswith("SPM: peak") for line in violations)
    assert any("in use at cycle" in line for line in violations)


def test_checker_catches_array_that_miscounts_cycles(monkeypatch):
    original = SystolicArray._tile_cost

    def halved(self, extents, dataflow, density):
        cycles, accesses, last_fold = original(self, extents, dataflow, density)
        return cycles // 2, accesses, last_fold

    monkeypatch.setattr(SystolicArray, "_tile_cost", halved)
    _, violations = run_and_check(*tiny_edge())
    assert any("the array model gives" in line for line in violations)
    assert any(line.startswith("compute: arrays report") for line in violations)


def test_checker_catches_schedule_with_dropped_dependencies(monkeypatch):
    # the fused order finishes conv2's dX only at the end of its layer, so conv1 races ahead without deps
    workload, hw, _ = tiny_edge()
    options = run_options(order="fused")
    original = npu_des.schedule.plan.build_schedule

    def without_dependencies(*args, **kwargs):
        return dataclasses.replace(original(*args, **kwargs), op_deps={})

    with monkeypatch.context() as patch:
        patch.setattr(npu_des.schedule.plan, "build_schedule", without_dependencies)
        result = simulate(workload, hw, options)
    violations = check_run(result, workload, hw, options)  # re-plans with the intact schedule
    assert any(line.startswith("deps:") and "(its dY) ends" in line for line in violations)


def test_checker_catches_schedule_that_skips_a_tile(monkeypatch):
    workload, hw, options = tiny_edge()
    original = npu_des.schedule.plan.build_schedule

    def skipping_one_tile(*args, **kwargs):
        schedule = original(*args, **kwargs)
        victim = next(task for task in schedule.tasks if task.first and task.last)  # a lone contribution
        kept = [task for task in schedule.tasks if task is not victim]
        new_id = {task.id: index for index, task in enumerate(kept)}
        tasks = tuple(
            dataclasses.replace(task, id=new_id[task.id], prev=new_id.get(task.prev, -1)) for task in kept
        )
        return dataclasses.replace(schedule, tasks=tasks)

    with monkeypatch.context() as patch:
        patch.setattr(npu_des.schedule.plan, "build_schedule", skipping_one_tile)
        result = simulate(workload, hw, options)
    violations = check_run(result, workload, hw, options)
    assert any("scheduled but never computed" in line for line in violations)


def test_checker_catches_tampered_results():
    workload, hw, options = tiny_edge()
    result = simulate(workload, hw, options)
    compute = next(event for event in result.timeline if event.resource.endswith(".array"))
    twice = dataclasses.replace(result, timeline=[*result.timeline, compute])
    assert any("computed 2 times" in line for line in check_run(twice, workload, hw, options))
    faster = dataclasses.replace(result, total_cycles=result.lower_bound_cycles / 2)
    assert any(line.startswith("bound: run took") for line in check_run(faster, workload, hw, options))


def test_checker_reports_each_systematic_violation_briefly(monkeypatch):
    monkeypatch.setattr(SystolicArray, "_tile_cost", lambda self, extents, dataflow, density: (1, 0, 0))
    _, violations = run_and_check(*tiny_edge())
    assert any(line.startswith("tiles: ... and") for line in violations)
    assert len(violations) < 40


def test_partial_sum_is_not_read_back_before_its_write_back_ends():
    workload = single_linear(32, 32, 32)
    hw = load_hardware(
        "ethos_n77",
        [
            "cores.array.rows=4",
            "cores.array.cols=4",
            "spm.capacity_kb=4",
            "spm.policy=explicit",
            "dram.bandwidth_gbps=4",
            "dram.latency_cycles=10",
            "bytes_per_element=2",
        ],
    )
    _, violations = run_and_check(workload, hw, run_options(order="interleaved"))
    assert [line for line in violations if line.startswith("hazard:")] == []


# --- the stuck-run detector ------------------------------------------------------------------


def test_task_waiting_on_a_later_task_raises_simulation_stuck(monkeypatch):
    original = npu_des.schedule.plan.build_schedule
    broken: dict[str, int] = {}

    def waits_on_later_task(*args, **kwargs):
        schedule = original(*args, **kwargs)
        tasks = list(schedule.tasks)
        first = tasks[0]
        broken["later"] = max(task.id for task in tasks if task.core == first.core)
        tasks[0] = dataclasses.replace(first, prev=broken["later"])
        return dataclasses.replace(schedule, tasks=tuple(tasks))

    monkeypatch.setattr(npu_des.schedule.plan, "build_schedule", waits_on_later_task)
    with time_limit(20), pytest.raises(SimulationStuck) as stuck:
        simulate(*tiny_edge())
    message = str(stuck.value)
    assert "stopped progressing" in message
    assert "of layer 'fc'" in message and f"waits for task {broken['later']}" in message


def test_cyclic_op_dependencies_raise_simulation_stuck(monkeypatch):
    original = npu_des.schedule.plan.build_schedule

    def cyclic(*args, **kwargs):
        schedule = original(*args, **kwargs)
        deps = dict(schedule.op_deps)
        deps[("fc", "dX")] = (("fc", "dW"),)
        deps[("fc", "dW")] = (("fc", "dX"),)
        return dataclasses.replace(schedule, op_deps=deps)

    monkeypatch.setattr(npu_des.schedule.plan, "build_schedule", cyclic)
    workload, hw, options = tiny_edge()
    with time_limit(20), pytest.raises(SimulationStuck) as stuck:
        simulate(workload, hw, options)
    assert "of layer 'fc' waits for the ops producing its dY" in str(stuck.value)


def test_stuck_run_is_an_error_line_and_exit_2_on_the_cli(monkeypatch, capsys):
    original = npu_des.schedule.plan.build_schedule

    def cyclic(*args, **kwargs):
        schedule = original(*args, **kwargs)
        return dataclasses.replace(schedule, op_deps={**schedule.op_deps, ("fc", "dW"): (("fc", "dW"),)})

    monkeypatch.setattr(npu_des.schedule.plan, "build_schedule", cyclic)
    with time_limit(20):
        code = main(["run", "--model", "tiny_cnn", "--order", "sequential"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("npu-des: error: simulation stopped progressing")
    assert "Traceback" not in err


# --- npu-des check ----------------------------------------------------------------------------


def test_check_command_exits_0_when_invariants_hold(capsys):
    assert main(["check", "--model", "tiny_cnn"]) == 0
    out = capsys.readouterr().out
    assert out.count("all invariants hold") == 2


def test_check_command_exits_1_and_lists_violations(monkeypatch, capsys):
    original = DramChannel.start  # every DMA transfer goes through it

    def double_counting(self, nbytes, kind, direction, finished):
        self.bytes[(kind, direction)] = self.bytes.get((kind, direction), 0) + nbytes
        return original(self, nbytes, kind, direction, finished)

    break_component(monkeypatch, DramChannel, "start", double_counting)
    assert main(["check", "--model", "tiny_cnn", "--order", "sequential"]) == 1
    captured = capsys.readouterr()
    assert "FAIL tiny_cnn on edge_dual, sequential" in captured.out and "  - bytes:" in captured.out
    assert "violate invariants" in captured.err
