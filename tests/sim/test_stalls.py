"""Stall attribution: every cycle of every core's array is computing or exactly one StallReason; the parts
tile the run, vanish where nothing can hold a core back, and match a hand-worked case."""

from __future__ import annotations

import math
import os

from conftest import make_hw
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from npu_des.config import run_options
from npu_des.errors import ConfigError
from npu_des.kinds import StallReason
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate

SCALE = float(os.environ.get("NPU_DES_FUZZ_SCALE", "1"))
ORDERS = {"sequential": {"order": "sequential"}, "interleaved": {"order": "interleaved"},
          "interleaved-auto": {"order": "interleaved", "loop_order": "auto"}}


def assert_partition(result) -> None:
    """Per core: compute and stall intervals tile [0, end of run] exactly, and the totals add up."""
    for core in range(result.cores):
        units = (f"core{core}.array", f"core{core}.vector", f"core{core}.stall")
        intervals = sorted((e.start, e.end) for e in result.timeline if e.resource in units)
        boundary = 0.0
        for start, end in intervals:
            assert start == boundary and end > start  # no gap, no overlap, nothing empty
            boundary = end
        assert boundary == result.total_cycles
        parts = result.stalls[f"core{core}"]
        assert set(parts) == {str(reason) for reason in StallReason}
        assert math.isclose(math.fsum(parts.values()), result.total_cycles, rel_tol=1e-12)
        computed = math.fsum(e.duration for e in result.timeline if e.resource in units[:2])
        assert math.isclose(parts["compute"], computed, rel_tol=1e-12)


@settings(max_examples=int(30 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["tiny_cnn", "linear"]),
    cores=st.integers(1, 3),
    capacity_kb=st.sampled_from([8, 16, 64]),
    bandwidth=st.sampled_from([0.5, 4.0, 100.0]),
    latency=st.sampled_from([0, 10, 200]),
    depth=st.integers(0, 3),
    order=st.sampled_from(sorted(ORDERS)),
    vector_ops=st.booleans(),
)
def test_parts_add_up_to_the_run_on_every_core(model, cores, capacity_kb, bandwidth, latency, depth, order,
                                               vector_ops):
    workload = build_model("tiny_cnn") if model == "tiny_cnn" else single_linear(96, 80, 72)
    hw = make_hw(f"cores.count={cores}", f"spm.capacity_kb={capacity_kb}", f"dram.bandwidth_gbps={bandwidth}",
                 f"dram.latency_cycles={latency}")
    try:
        settings_ = [f"run.prefetch_depth={depth}", f"run.vector_ops={vector_ops}"]
        options = run_options(settings_, **ORDERS[order])
        result = simulate(workload, hw, options)
    except ConfigError:
        assume(False)
        return
    assert_partition(result)
    per_layer = {reason: math.fsum(row.stalls[reason] for row in result.layers)
                 for reason in ("dependency", "spm_space", "load_contention", "load_transfer")}
    for reason, cycles in per_layer.items():
        total = math.fsum(parts[reason] for parts in result.stalls.values())
        assert math.isclose(cycles, total, rel_tol=1e-9, abs_tol=1e-6)


def test_no_load_stalls_with_free_memory_and_no_dependencies():
    # one layer without an input gradient: no op waits for another; memory effectively free
    hw = make_hw("cores.count=2", "dram.bandwidth_gbps=1e9", "dram.latency_cycles=0", "spm.capacity_kb=4096")
    options = run_options(order="sequential", tile={"m": 32, "n": 32, "k": 32})
    result = simulate(single_linear(256, 128, 128, with_input_gradient=False), hw, options)
    assert result.tasks > 4
    assert_partition(result)
    for parts in result.stalls.values():
        assert parts["dependency"] == 0 and parts["spm_space"] == 0
        assert parts["load_contention"] + parts["load_transfer"] < 1e-3  # bytes / 1e9 GB/s
        assert parts["compute"] > 0


def test_two_tasks_by_hand():
    """1 core, 1 DMA slot, 8 B/cycle, latency 10; two dW tiles of 4x4x4 (2-byte elements: 32-byte tiles,
    so each transfer takes 10 + 32/8 = 14 cycles; a 4x4 OS tile with T=4 takes R + C + T - 2 = 10 cycles,
    the op's first tile on the array one less, 9, as SCALE-Sim reports it; the two tiles have different
    outputs, so the second does not continue the first's fold).

    Task 0 loads X [0, 14] and then dY [14, 28] (one slot): waiting for dY, 0-14 is contention (the
    slot serves X), 14-28 its own latency + bytes. It computes 28-37. Task 1 (no look-ahead) starts at
    37: X is resident, its dY waits while the slot stores task 0's dW [37, 51] (contention), then moves
    [51, 65] (transfer); it computes 65-75; task 1's dW store runs 75-89 with no work left (idle).
    """
    hw = make_hw("cores.count=1", "dram.bandwidth_gbps=8", "dram.latency_cycles=10",
                 "cores.dma.outstanding=1")
    options = run_options(["run.prefetch_depth=0"], order="sequential", tile={"m": 4, "n": 4, "k": 4})
    result = simulate(single_linear(4, 4, 8, with_input_gradient=False), hw, options)
    assert result.total_cycles == 89
    assert result.stalls == {"core0": {"compute": 19.0, "dependency": 0.0, "spm_space": 0.0,
                                       "load_contention": 28.0, "load_transfer": 28.0, "idle": 14.0}}
    stalls = [(e.start, e.end, e.kind, e.tile) for e in result.timeline if e.resource == "core0.stall"]
    assert stalls == [(0, 14.0, "load_contention", "0.0.0.0"), (14.0, 28.0, "load_transfer", "0.0.0.0"),
                      (37.0, 51.0, "load_contention", "0.0.1.0"), (51.0, 65.0, "load_transfer", "0.0.1.0"),
                      (75.0, 89.0, "idle", "")]
    (row,) = result.layers
    assert row.stalls == {"dependency": 0.0, "spm_space": 0.0, "load_contention": 28.0, "load_transfer": 28.0}
    assert row.flat()["stall_load_transfer_cycles"] == 28.0


def test_waiting_for_space_and_for_dependencies_are_named():
    # a tiny SPM makes fills wait for space; interleaving exposes the layer boundary (dY producers)
    hw = make_hw("cores.count=2", "spm.capacity_kb=6", "dram.bandwidth_gbps=4")
    result = simulate(build_model("tiny_cnn"), hw, run_options(order="interleaved"))
    assert_partition(result)
    total = {reason: sum(parts[reason] for parts in result.stalls.values())
             for reason in result.stalls["core0"]}
    assert total["dependency"] > 0 and total["load_transfer"] > 0
    kinds = {e.kind for e in result.timeline if e.resource.endswith(".stall")}
    assert {"dependency", "load_transfer", "idle"} <= kinds
