"""The MICRO'23 orders as the paper defines them: sequential, Only Interleaving, Algorithm 1 (rearranged)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from conftest import make_hw
from hypothesis import given, settings
from hypothesis import strategies as st

from npu_des.analysis.checks import check_run
from npu_des.config import LayerChoice, load_hardware, run_options
from npu_des.kinds import Access, Op, Order
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.schedule.algorithm1 import algorithm1
from npu_des.schedule.orders import Region, fused_steps, interleaved_steps, sequential_steps
from npu_des.schedule.plan import plan
from npu_des.sim.autotune import layer_time
from npu_des.sim.driver import simulate

TILE = {"m": 8, "n": 8, "k": 8}
ORDERS = ("sequential", "interleaved", "rearranged", "rearranged-best", "fused")


@pytest.mark.parametrize(("m", "n", "k", "expected"), [
    (64, 64, 64, Access.INTERLEAVING),   # square
    (10, 10, 39, Access.INTERLEAVING),   # max/min = 3.9 < 4
    (10, 10, 40, Access.DW_MAJOR),       # max/min = 4 is not < 4; K > N and K > M
    (40, 10, 40, Access.DX_MAJOR),       # K == M: the strict K > M fails, falls through
    (10, 40, 40, Access.DX_MAJOR),       # K == N: falls through
    (100, 10, 50, Access.DX_MAJOR),      # K not the largest
    (10, 100, 50, Access.DX_MAJOR),      # N > K > M: Alg. 1 says dXmajor (the prose's size rule: dWmajor)
    (50, 10, 100, Access.DW_MAJOR),      # K > M > N: Alg. 1 says dWmajor (the size rule: dXmajor)
    (1, 1, 4, Access.DW_MAJOR),
    (3, 1, 3, Access.INTERLEAVING),      # 3 / 1 < 4: nearly square, whatever the sizes
])
def test_algorithm1_picks_the_documented_order(m, n, k, expected):
    assert algorithm1(m, n, k) == expected


def test_rearranged_records_algorithm1_choice_per_layer():
    # layer M=16 (2 tiles), K=128, N=8: not square (128/8 = 16), K largest -> dWmajor.
    # producer: M=16, K=1, N=128: K is smallest, not square -> dXmajor.
    result = simulate(single_linear(m=16, k=128, n=8), make_hw(), run_options(order="rearranged", tile=TILE))
    assert result.choices["layer"]["access"] == "dWmajor"
    assert result.choices["producer"]["access"] == "dXmajor"
    assert result.order == "rearranged"


def products(steps) -> list[tuple]:
    return [product for step in steps for product in step]


def test_traditional_orders_walk_dy_row_major_for_dx_and_column_major_for_dw():
    region = Region(range(1), range(2), range(3), range(2))  # Tm=2, Tn=3, Tk=2
    steps = sequential_steps(region, True)
    dx = [p for p in products(steps) if p[0] == Op.DX]
    dw = [p for p in products(steps) if p[0] == Op.DW]
    row_0_per_k = [(0, 0), (0, 1), (0, 2), (0, 0), (0, 1), (0, 2)]
    assert [(m, n) for _, _, m, n, _ in dx[:6]] == row_0_per_k
    assert [(m, n) for _, _, m, n, _ in dw[:4]] == [(0, 0), (1, 0), (0, 1), (1, 1)]  # column by column
    assert products(steps) == dx + dw  # all dX, then all dW
    assert len(dx) == len(dw) == 12


def test_only_interleaving_alternates_complete_output_tiles_dx_first():
    region = Region(range(1), range(2), range(3), range(2))
    steps = interleaved_steps(region, True)
    ops = [step[0][0] for step in steps]
    assert ops[:8] == [Op.DX, Op.DW] * 4  # 4 dX steps (Tm*Tk) and 6 dW steps (Tk*Tn): then dW alone
    assert ops == [Op.DX, Op.DW] * 4 + [Op.DW] * 2
    for step in steps:  # one step = one output tile with its whole reduction
        outputs = {(m, k) if op == Op.DX else (n, k) for op, _, m, n, k in step}
        assert len(outputs) == 1
        assert len(step) == (3 if step[0][0] == Op.DX else 2)
    traditional = sequential_steps(region, True)
    assert sorted(products(steps)) == sorted(products(traditional))
    assert [s for s in steps if s[0][0] == Op.DX] == [s for s in traditional if s[0][0] == Op.DX]
    first_layer = interleaved_steps(region, False)
    assert {p[0] for p in products(first_layer)} == {Op.DW}


def test_dxmajor_and_dwmajor_are_the_fused_nests_mkn_and_nkm():
    region = Region(range(1), range(2), range(2), range(2))
    first_dxmajor = next(iter(fused_steps(region, "mkn", True)))
    # Fig. 10b: step (m=0, k=0) completes dX(0,0) over n and leaves dW(n=., k=0) partial
    assert {(op, m, k) for op, _, m, _, k in first_dxmajor if op == Op.DX} == {(Op.DX, 0, 0)}
    assert {(n, k) for op, _, _, n, k in first_dxmajor if op == Op.DW} == {(0, 0), (1, 0)}
    first_dwmajor = next(iter(fused_steps(region, "nkm", True)))
    # Fig. 10c: step (n=0, k=0) completes dW(0,0) over m and leaves dX(m=., k=0) partial
    assert {(n, k) for op, _, _, n, k in first_dwmajor if op == Op.DW} == {(0, 0)}
    assert {(m, k) for op, _, m, _, k in first_dwmajor if op == Op.DX} == {(0, 0), (1, 0)}


def partial_sum_reads(result) -> int:
    return result.dram_bytes["read"]["dX"] + result.dram_bytes["read"]["dW"]


@settings(max_examples=40, deadline=None)
@given(tiles=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
       capacity_kb=st.sampled_from([3, 4, 64]), policy=st.sampled_from(["lru", "explicit"]),
       cores=st.integers(1, 2), depth=st.integers(1, 2))
def test_only_interleaving_reads_no_partial_sum_back(tiles, capacity_kb, policy, cores, depth):
    m, n, k = tiles
    hw = make_hw(f"spm.capacity_kb={capacity_kb}", f"spm.policy={policy}", f"cores.count={cores}")
    options = run_options(order="interleaved", tile=TILE, prefetch_depth=depth, spm_fraction=1.0)
    result = simulate(single_linear(m=8 * m, k=8 * k, n=8 * n), hw, options)
    assert partial_sum_reads(result) == 0


@settings(max_examples=40, deadline=None)
@given(tiles=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)))
def test_only_interleaving_never_reads_more_dy_than_sequential_without_cache_retention(tiles):
    """The paper's SPM keeps a tile only while the double-buffer halves hold it (§1.3 of the spec): the
    explicit policy with one task loading ahead. Then every step loads what it loads in sequential, and
    interleaving can only add reuse where a dX step and a dW step meet on a dY tile."""
    m, n, k = tiles
    hw = make_hw("spm.policy=explicit")
    options = {"tile": TILE, "prefetch_depth": 1}
    workload = single_linear(m=8 * m, k=8 * k, n=8 * n)
    seq = simulate(workload, hw, run_options(order="sequential", **options))
    inter = simulate(workload, hw, run_options(order="interleaved", **options))
    assert inter.dram_bytes["read"]["dY"] <= seq.dram_bytes["read"]["dY"]
    assert partial_sum_reads(inter) == 0


def test_under_lru_only_interleaving_can_read_more_dy_than_sequential():
    """Not a property of interleaving: with an LRU SPM, sequential's dX keeps a dY row across its k loop,
    and the interleaved dW steps (Tm tiles each) evict it. Tm=5, Tn=3, Tk=2 tiles of 128 B, SPM 1 KB."""
    workload = single_linear(m=40, k=16, n=24)
    hw = make_hw("spm.capacity_kb=1")
    options = {"tile": TILE, "spm_fraction": 1.0}
    seq = simulate(workload, hw, run_options(order="sequential", **options))
    inter = simulate(workload, hw, run_options(order="interleaved", **options))
    assert inter.dram_bytes["read"]["dY"] > seq.dram_bytes["read"]["dY"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("cores", [1, 2])
def test_every_order_keeps_every_invariant(order, cores):
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual", [f"cores.count={cores}"])
    options = run_options(order=order)
    result = simulate(workload, hw, options)
    assert check_run(result, workload, hw, options) == []
    assert result.order == order


def test_rearranged_best_takes_the_fastest_access_order_of_each_isolated_layer():
    workload = single_linear(m=64, k=96, n=16)
    hw = make_hw("spm.capacity_kb=4")
    options = run_options(order="rearranged-best", tile=TILE, spm_fraction=1.0)
    result = simulate(workload, hw, options)
    times = {access: layer_time(workload.layers[1], hw, options, LayerChoice(access=access))
             for access in Access}
    assert times[Access(result.choices["layer"]["access"])] == min(times.values())
    forced = {access: simulate(workload, hw, options.model_copy(update={
        "order": Order.REARRANGED, "layer_choices": {"layer": LayerChoice(access=access)}}))
        for access in Access}
    assert result.total_cycles <= max(run.total_cycles for run in forced.values())
    assert check_run(result, workload, hw, options) == []


def test_fused_order_keeps_the_old_interleaved_loop_nest():
    """`fused` with loop mnk is the order formerly called interleaved: dW then dX per tile iteration."""
    workload = single_linear(m=16, k=16, n=16)
    schedule, _ = plan(workload, make_hw(), run_options(order="fused", tile=TILE))
    layer = [(t.op, t.tile) for t in schedule.tasks if t.layer == "layer"]
    assert layer[:4] == [(Op.DW, (0, 0, 0, 0)), (Op.DX, (0, 0, 0, 0)),
                         (Op.DW, (0, 0, 0, 1)), (Op.DX, (0, 0, 0, 1))]
    assert all(a[1] <= b[1] for a, b in pairwise(layer[::2]))
