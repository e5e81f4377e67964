"""Memory-system properties: bytes are conserved, the SPM never overflows, compulsory traffic with a
big SPM, and the closed-form dY re-read count that interleaving removes on a small SPM."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import make_hw

from npu_des.config import run_options
from npu_des.kinds import KINDS
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate

ORDERS = ("sequential", "interleaved")


@pytest.fixture(scope="module")
def tiny_runs():
    hw = make_hw("cores.count=2", "spm.capacity_kb=24", "dram.bandwidth_gbps=4")
    workload = build_model("tiny_cnn")
    return {order: (workload, hw, run_options(order=order), simulate(workload, hw, run_options(order=order)))
            for order in ORDERS}


@pytest.mark.parametrize("order", ORDERS)
def test_dram_bytes_equal_sum_of_dma_transfers(tiny_runs, order):
    *_, result = tiny_runs[order]
    moved = Counter()
    for event in result.timeline:
        if event.resource.endswith(".dma"):
            moved[(event.direction, event.kind)] += event.bytes
    for direction, kinds in result.dram_bytes.items():
        for kind, nbytes in kinds.items():
            assert moved[(direction, kind)] == nbytes
    assert sum(moved.values()) == result.total_dram_bytes > 0


@pytest.mark.parametrize("order", ORDERS)
def test_spm_occupancy_never_exceeds_capacity(tiny_runs, order):
    *_, result = tiny_runs[order]
    assert max(used for _, used, _ in result.spm_occupancy) <= result.spm_capacity_bytes
    assert result.spm_peak_bytes <= result.spm_capacity_bytes
    assert result.spm_peak_bytes > 0.5 * result.spm_capacity_bytes  # the small SPM was actually pressed


@pytest.mark.parametrize("order", ORDERS)
def test_every_tile_task_computed_exactly_once(tiny_runs, order):
    workload, hw, options, result = tiny_runs[order]
    schedule, _ = plan(workload, hw, options)
    scheduled = Counter((t.layer, t.op, ".".join(map(str, t.tile))) for t in schedule.tasks)
    computed = Counter((e.layer, e.op, e.tile) for e in result.timeline if e.resource.endswith(".array"))
    assert computed == scheduled
    assert max(computed.values()) == 1
    assert sum(e.bytes for e in result.timeline if e.resource.endswith(".array")) == workload.macs * 2 - sum(
        layer.gemm.macs for layer in workload.layers if not layer.has_input_gradient)


@pytest.mark.parametrize("order", ORDERS)
def test_no_op_starts_before_its_output_gradient_exists(tiny_runs, order):
    workload, _, _, result = tiny_runs[order]
    dx_end = {row.layer: row.dX_end for row in result.layers}
    consumers = {
        layer.name: [c.name for c in workload.layers if layer.name in c.inputs] for layer in workload.layers
    }
    first_use = {}
    for event in result.timeline:
        if event.layer and event.kind in ("dY",) and event.direction == "read":
            first_use[event.layer] = min(first_use.get(event.layer, event.start), event.start)
        if event.resource.endswith(".array"):
            first_use[event.layer] = min(first_use.get(event.layer, event.start), event.start)
    for layer, start in first_use.items():
        for consumer in consumers[layer]:
            assert start >= dx_end[consumer], f"{layer} started at {start} before dX of {consumer} ended"


@pytest.mark.parametrize("order", ORDERS)
def test_huge_spm_moves_compulsory_bytes_only(order):
    hw = make_hw("cores.count=2", "spm.capacity_kb=65536")
    result = simulate(build_model("tiny_cnn"), hw, run_options(order=order))
    assert result.dram_bytes["read"] == {
        "X": result.compulsory_bytes["X"],
        "W": result.compulsory_bytes["W"],
        "dY": result.compulsory_bytes["dY"],
        "dX": 0,
        "dW": 0,
    }
    assert result.dram_bytes["write"] == {
        "X": 0,
        "W": 0,
        "dY": 0,
        "dX": result.compulsory_bytes["dX"],
        "dW": result.compulsory_bytes["dW"],
    }


@pytest.mark.parametrize(("m_tiles", "n_tiles", "k_tiles"), [(4, 1, 2), (2, 2, 2), (3, 2, 1)])
def test_fused_mnk_reads_dy_fewer_times_by_closed_form(m_tiles, n_tiles, k_tiles):
    """Explicit (software-managed) SPM, one core, prefetch depth 1: a tile is reused only while an
    in-flight task holds it, i.e. only by the very next task.

    sequential, dX loop (m, k, n): dY[m, n] changes every task unless Tn = 1, where the k tasks of a
      row share it: Tm reads if Tn = 1, else Tm*Tk*Tn.
    sequential, dW loop (k, n, m): m is innermost, so dY changes every task (Tm > 1 in all cases
      here): Tk*Tn*Tm reads.
    fused, loop (m, n, k): the dW and dX tasks of all k follow each other: Tm*Tn reads.
    """
    tile = 8
    workload = single_linear(m=m_tiles * tile, k=k_tiles * tile, n=n_tiles * tile)
    hw = make_hw("spm.policy=explicit")
    options = {"tile": {"m": tile, "n": tile, "k": tile}}
    seq = simulate(workload, hw, run_options(order="sequential", **options))
    inter = simulate(workload, hw, run_options(order="fused", **options))

    def layer_dy_reads(result):
        return next(row for row in result.layers if row.layer == "layer").read_bytes["dY"]

    tile_bytes = tile * tile * 2
    dx_reads = m_tiles if n_tiles == 1 else m_tiles * k_tiles * n_tiles
    dw_reads = k_tiles * n_tiles * m_tiles
    assert layer_dy_reads(seq) == (dx_reads + dw_reads) * tile_bytes
    assert layer_dy_reads(inter) == m_tiles * n_tiles * tile_bytes
    assert (
        layer_dy_reads(seq) - layer_dy_reads(inter) == (dx_reads + dw_reads - m_tiles * n_tiles) * tile_bytes
    )


@pytest.mark.slow
def test_fused_order_saves_dy_traffic_on_resnet_with_small_spm():
    workload = build_model("resnet50")
    hw = make_hw(
        "cores.count=2",
        "cores.array.rows=16",
        "cores.array.cols=16",
        "spm.capacity_kb=512",
        "dram.bandwidth_gbps=16",
    )
    seq = simulate(workload, hw, run_options(order="sequential"))
    inter = simulate(workload, hw, run_options(order="fused"))
    assert inter.dram_bytes["read"]["dY"] < seq.dram_bytes["read"]["dY"]
    assert inter.dram_bytes["read"]["dY"] >= inter.compulsory_bytes["dY"]
    for kind in KINDS:  # nothing is read or written less than once
        assert seq.dram_bytes["read"][kind] + seq.dram_bytes["write"][kind] >= seq.compulsory_bytes[kind]
