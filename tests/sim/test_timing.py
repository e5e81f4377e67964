"""Time-domain properties: the infinite-bandwidth limit is the pure task schedule, the tiny-bandwidth
limit is bytes / bandwidth, the DRAM channel shares bandwidth fairly, and runs are deterministic."""

from __future__ import annotations

import pytest
from conftest import make_hw

from npu_des.config import run_options
from npu_des.models import build_model
from npu_des.schedule.plan import plan
from npu_des.sim.clock import Clock
from npu_des.sim.components.dram import DramChannel
from npu_des.sim.driver import simulate
from npu_des.tiling.compute_model import gemm_cycles

ORDERS = ("sequential", "interleaved")


def replay_without_memory(schedule, cores: int, rows: int, cols: int, dataflow: str) -> float:
    """Makespan of the schedule when memory is free: each core runs its tasks in order; a task starts
    when its core is free, its previous partial sum is done, and the ops producing its dY have ended.
    An independent re-implementation of the executor's ordering rules, without SimPy."""
    finish: dict[int, float] = {}
    op_end: dict[tuple[str, str], float] = {}
    op_left: dict[tuple[str, str], int] = {}
    for task in schedule.tasks:
        op_left[(task.layer, task.op)] = op_left.get((task.layer, task.op), 0) + 1
    core_free = [0.0] * cores
    resident: list[object] = [None] * cores  # output tile key the OS array holds
    started: set[tuple[int, str, str]] = set()  # (core, layer, op)
    queues = [[t for t in schedule.tasks if t.core == c] for c in range(cores)]
    heads = [0] * cores
    progressed = True
    while progressed:
        progressed = False
        for core in range(cores):
            while heads[core] < len(queues[core]):
                task = queues[core][heads[core]]
                deps = schedule.op_deps.get((task.layer, task.op), ())
                if any(dep in op_left and op_left[dep] > 0 for dep in deps) or (
                    task.prev >= 0 and task.prev not in finish
                ):
                    break
                start = max(
                    [core_free[core]]
                    + [op_end[d] for d in deps if d in op_end]
                    + ([finish[task.prev]] if task.prev >= 0 else [])
                )
                groups, m, k, n = task.extents
                cycles = groups * gemm_cycles(m, k, n, rows, cols, dataflow)
                if resident[core] == task.output.key:  # OS fold still in the array: no skew, no drain
                    cycles -= rows + cols - 2
                resident[core] = task.output.key
                if (core, task.layer, task.op) not in started:  # an array counts an op's rows from 0
                    started.add((core, task.layer, task.op))
                    cycles -= 1
                finish[task.id] = core_free[core] = start + cycles
                op = (task.layer, task.op)
                op_left[op] -= 1
                if op_left[op] == 0:
                    op_end[op] = max(finish[t.id] for t in schedule.tasks if (t.layer, t.op) == op)
                heads[core] += 1
                progressed = True
    assert all(heads[c] == len(queues[c]) for c in range(cores))
    return max(finish.values())


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("cores", [1, 2])
def test_infinite_bandwidth_time_is_the_pure_compute_schedule(order, cores):
    hw = make_hw(
        f"cores.count={cores}", "dram.bandwidth_gbps=1e9", "dram.latency_cycles=0", "spm.capacity_kb=32"
    )
    workload = build_model("tiny_cnn")
    options = run_options(order=order)
    result = simulate(workload, hw, options)
    schedule, _ = plan(workload, hw, options)
    expected = replay_without_memory(schedule, cores, 4, 4, "os")
    assert result.total_cycles == pytest.approx(expected, rel=1e-6)
    if cores == 1:  # one core never waits on another: no gaps at all
        assert result.total_cycles == pytest.approx(result.compute_cycles, rel=1e-6)
    # the gaps on 2 cores are only dependency waits: never below the perfectly balanced split
    assert result.total_cycles >= result.compute_cycles / cores - 1e-6


@pytest.mark.parametrize("order", ORDERS)
def test_tiny_bandwidth_time_tends_to_bytes_over_bandwidth(order):
    hw = make_hw("cores.count=2", "dram.bandwidth_gbps=0.01", "dram.latency_cycles=0")
    result = simulate(build_model("tiny_cnn"), hw, run_options(order=order))
    memory_time = result.total_dram_bytes / result.dram_bytes_per_cycle
    assert memory_time <= result.total_cycles <= memory_time + result.compute_cycles
    assert result.total_cycles / memory_time < 1.01  # compute is < 1% of the memory time here


def test_lone_transfer_takes_latency_plus_size_over_bandwidth():
    env = Clock()
    channel = DramChannel(env, bytes_per_cycle=4.0, latency_cycles=10)
    done = channel.transfer(400, "X", "read")
    env.run()
    assert done.triggered and env.now == pytest.approx(10 + 100)
    assert channel.busy_intervals == [(10, 110)]


def test_concurrent_transfers_share_bandwidth_fairly():
    # A (S=400) starts at 0; B (S=400) joins at t=50 when A has 200 left. Both then run at 2 B/cycle:
    # A ends at 50 + 200/2 = 150; B has 200 left at 150 and ends alone at 150 + 200/4 = 200.
    env = Clock()
    channel = DramChannel(env, bytes_per_cycle=4.0, latency_cycles=0)
    ends = {}

    def start(name: str, delay: float):
        yield env.timeout(delay)
        yield channel.transfer(400, "dY", "read")
        ends[name] = env.now

    env.process(start("A", 0))
    env.process(start("B", 50))
    env.run()
    assert ends == {"A": pytest.approx(150), "B": pytest.approx(200)}
    assert channel.bytes == {("dY", "read"): 800}
    assert channel.busy_intervals == [(0, 200)]


def test_bandwidth_bound_run_keeps_channel_busy():
    hw = make_hw("cores.count=2", "dram.bandwidth_gbps=0.05")
    result = simulate(build_model("tiny_cnn"), hw, run_options(order="sequential"))
    busy = sum(e.duration for e in result.timeline if e.resource == "dram")
    assert busy / result.total_cycles > 0.95


@pytest.mark.parametrize("order", ORDERS)
def test_same_inputs_give_identical_results(order):
    hw = make_hw("cores.count=2", "spm.capacity_kb=24")
    first = simulate(build_model("tiny_cnn"), hw, run_options(order=order))
    second = simulate(build_model("tiny_cnn"), hw, run_options(order=order))
    assert first.summary() == second.summary()
    assert first.timeline == second.timeline
    assert first.spm_occupancy == second.spm_occupancy


def test_progress_reports_rise_to_the_task_count():
    calls = []
    result = simulate(
        build_model("tiny_cnn"),
        make_hw("cores.count=2"),
        run_options(order="interleaved"),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, result.tasks) and calls[-1] == (result.tasks, result.tasks)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
