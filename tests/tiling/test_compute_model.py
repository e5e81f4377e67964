"""Compute cycles match SCALE-Sim's analytical model (DESIGN.md) exactly, for every dataflow."""

from __future__ import annotations

import pytest
from conftest import make_hw

from npu_des.config import run_options
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate
from npu_des.tiling.compute_model import gemm_cycles


@pytest.mark.parametrize(
    ("m", "k", "n", "rows", "cols", "dataflow", "expected"),
    [
        # OS: Sr=M=4, Sc=N=3, T=K=5 on 2x2 -> folds 2*2=4, each 2*2+2+5-2=9 -> 36
        (4, 5, 3, 2, 2, "os", 36),
        # WS: Sr=K=5, Sc=N=3, T=M=4 -> folds 3*2=6, each 4+2+4-2=8 -> 48
        (4, 5, 3, 2, 2, "ws", 48),
        # IS: Sr=K=5, Sc=M=4, T=N=3 -> folds 3*2=6, each 4+2+3-2=7 -> 42
        (4, 5, 3, 2, 2, "is", 42),
        # ResNet-50 layer1 3x3 conv on a 45x45 Ethos-like array, OS: folds ceil(3136/45)=70 * ceil(64/45)=2
        # = 140, each 90+45+576-2 = 709 -> 99260
        (3136, 576, 64, 45, 45, "os", 99260),
        # single fold that fits exactly: 45x45 output, T=1 -> 2*45+45+1-2 = 134
        (45, 1, 45, 45, 45, "os", 134),
    ],
)
def test_gemm_cycles_match_hand_computed_formula(m, k, n, rows, cols, dataflow, expected):
    assert gemm_cycles(m, k, n, rows, cols, dataflow) == expected


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_simulated_compute_cycles_equal_formula_for_one_tile_layer(dataflow):
    # One 24x40x16 layer as a single tile: the dX GEMM is M x N -> K (24 x 16 . 16 x 40),
    # the dW GEMM is K x M -> N (40 x 24 . 24 x 16); the producer layer (1 -> 40) is one tile too.
    hw = make_hw(f"cores.array.dataflow={dataflow}", "spm.capacity_kb=1024")
    workload = single_linear(m=24, k=40, n=16)
    result = simulate(workload, hw, run_options(order="sequential", tile={"m": 64, "n": 64, "k": 64}))
    layer = gemm_cycles(24, 16, 40, 4, 4, dataflow) + gemm_cycles(40, 24, 16, 4, 4, dataflow)
    producer = gemm_cycles(1, 24, 40, 4, 4, dataflow)  # dW of producer: K=1 x M=24 . 24 x N=40
    assert result.compute_cycles == layer + producer
    assert result.macs == 2 * 24 * 40 * 16 + 24 * 1 * 40


def test_tiled_compute_cycles_are_sum_over_tiles():
    # 32 x 16 x 8 with 8x8x8 tiles: dX tasks (m,k,n) = 4*2*1 of an 8x8x8 GEMM, dW likewise 8 tasks.
    hw = make_hw("spm.capacity_kb=1024")
    workload = single_linear(m=32, k=16, n=8, with_input_gradient=True)
    result = simulate(workload, hw, run_options(order="interleaved", tile={"m": 8, "n": 8, "k": 8}))
    per_tile = gemm_cycles(8, 8, 8, 4, 4, "os")
    # producer (32 x 1 -> 16): dW only, 4 m-tiles x 2 n-tiles, each K=1 x M=8 . 8 x N=8
    producer = 4 * 2 * gemm_cycles(1, 8, 8, 4, 4, "os")
    assert result.compute_cycles == 16 * per_tile + producer
