"""Compute cycles match SCALE-Sim's analytical model (DESIGN.md) exactly, for every dataflow, and
splitting a GEMM into tiles that continue each other costs no cycles the unsplit GEMM does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_hw

from npu_des.analysis.checks import check_run
from npu_des.config import run_options
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.schedule.plan import plan
from npu_des.sim.components.systolic_array import replay
from npu_des.sim.driver import simulate
from npu_des.tiling.compute_model import gemm_cycles, scalesim_cycles
from npu_des.workload import Workload, linear

CASES = Path(__file__).parents[1] / "data" / "scalesim" / "compute_cases.json"


@pytest.mark.parametrize(
    ("m", "k", "n", "rows", "cols", "dataflow", "expected"),
    [
        # OS: Sr=M=4, Sc=N=3, T=K=5 on 2x2 -> folds 2*2=4, each R+C+T-2 = 2+2+5-2 = 7 -> 28
        (4, 5, 3, 2, 2, "os", 28),
        # WS: Sr=K=5, Sc=N=3, T=M=4 -> folds 3*2=6, each 2R+C+T-2 = 4+2+4-2 = 8 -> 48
        (4, 5, 3, 2, 2, "ws", 48),
        # IS: Sr=K=5, Sc=M=4, T=N=3 -> folds 3*2=6, each 4+2+3-2 = 7 -> 42
        (4, 5, 3, 2, 2, "is", 42),
        # ResNet-50 layer1 3x3 conv on a 45x45 Ethos-like array, OS: folds ceil(3136/45)=70 * ceil(64/45)=2
        # = 140, each 45+45+576-2 = 664 -> 92960
        (3136, 576, 64, 45, 45, "os", 92960),
        # single fold that fits exactly: 45x45 output, T=1 -> 45+45+1-2 = 89
        (45, 1, 45, 45, 45, "os", 89),
        # ragged on a non-square 8x4 array: OS Sr=M=17 -> ceil(17/8)=3, Sc=N=5 -> ceil(5/4)=2: 6 folds
        # of 8+4+9-2 = 19 -> 114
        (17, 9, 5, 8, 4, "os", 114),
        # WS Sr=K=9 -> 2, Sc=N=5 -> 2: 4 folds of 16+4+17-2 = 35 -> 140
        (17, 9, 5, 8, 4, "ws", 140),
        # IS Sr=K=9 -> 2, Sc=M=17 -> 5: 10 folds of 16+4+5-2 = 23 -> 230
        (17, 9, 5, 8, 4, "is", 230),
        # skinny: a 1 x 300 . 300 x 1 dot product, WS: Sr=K=300 -> ceil(300/8)=38 folds of 16+4+1-2=19
        (1, 300, 1, 8, 4, "ws", 722),
    ],
)
def test_gemm_cycles_match_hand_computed_folds(m, k, n, rows, cols, dataflow, expected):
    assert gemm_cycles(m, k, n, rows, cols, dataflow) == expected
    assert scalesim_cycles(m, k, n, rows, cols, dataflow) == expected - 1


def test_formula_equals_real_scalesim_on_every_recorded_case():
    """462 GEMM and conv layers (4x4 to 128x128 and non-square arrays, M, N, K from 1 to 300) run
    through the real scalesim 3.0.0 package with large SRAMs: Total Cycles recorded in test data."""
    cases = json.loads(CASES.read_text())["cases"]
    assert len(cases) == 462
    for case in cases:
        rows, cols = case["array"]
        predicted = scalesim_cycles(case["M"], case["K"], case["N"], rows, cols, case["dataflow"])
        assert predicted == case["scalesim_total_cycles"], case


def one_layer(m: int, k: int, n: int) -> Workload:
    return Workload("one", (linear("fc", (), k, n, rows=m),))


def forward_cycles(workload: Workload, dataflow: str, tile: dict[str, int]) -> int:
    hw = make_hw(f"cores.array.dataflow={dataflow}", "spm.capacity_kb=4096")
    return simulate(workload, hw, run_options(pass_="forward", tile=tile)).compute_cycles


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_whole_gemm_tile_equals_scalesim_layer(dataflow):
    # a ragged 13 x 37 . 37 x 6 GEMM as one tile on 4x4: npu-des charges SCALE-Sim's Total Cycles
    assert forward_cycles(one_layer(13, 37, 6), dataflow, {"m": 64, "n": 64, "k": 64}) == scalesim_cycles(
        13, 37, 6, 4, 4, dataflow)


def test_k_split_output_stationary_gemm_costs_the_unsplit_cycles():
    # 8 x 64 . 64 x 8 on 4x4 OS, tiles 4x4x8: four one-fold output tiles, each accumulating 8 K tiles
    # back to back. Unsplit: 4 folds x (4+4+64-2) - 1 = 279. Split: per output 1 x (6+8) + 7 x 8 = 70,
    # the first tile of the op -1: 4 x 70 - 1 = 279.
    split = forward_cycles(one_layer(8, 64, 8), "os", {"m": 4, "n": 4, "k": 8})
    assert split == scalesim_cycles(8, 64, 8, 4, 4, "os") == 279


def test_m_split_weight_stationary_gemm_costs_the_unsplit_cycles():
    # 64 x 4 . 4 x 4 on 4x4 WS: one weight fold; M tiles of 8 stream through it back to back.
    # Unsplit: 1 fold x (8+4+64-2) - 1 = 73. Split: (10+8) + 7 x 8 - 1 = 73.
    split = forward_cycles(one_layer(64, 4, 4), "ws", {"m": 8, "n": 4, "k": 4})
    assert split == scalesim_cycles(64, 4, 4, 4, 4, "ws") == 73


def test_n_split_input_stationary_gemm_costs_the_unsplit_cycles():
    # 4 x 4 . 4 x 64 on 4x4 IS: one input fold (Sr=K, Sc=M); N tiles of 8 stream through it.
    split = forward_cycles(one_layer(4, 4, 64), "is", {"m": 4, "n": 8, "k": 4})
    assert split == scalesim_cycles(4, 4, 64, 4, 4, "is") == 73


def test_multi_fold_k_split_pays_every_fold_but_the_resident_one():
    # 8 x 16 . 16 x 8 on 4x4 OS with one 8x8 output tile of 4 folds, K in 2 tiles of 8: the second tile
    # continues only the fold still in the array: 4 x 14 + (4 x 14 - 6) - 1 = 105 (unsplit: 4 x 22 - 1).
    split = forward_cycles(one_layer(8, 16, 8), "os", {"m": 8, "n": 8, "k": 8})
    assert split == 105
    assert scalesim_cycles(8, 16, 8, 4, 4, "os") == 87


def test_simulated_compute_cycles_equal_formula_for_one_tile_backward_layer():
    # One 24x40x16 layer as a single tile: the dX GEMM is M x N -> K (24 x 16 . 16 x 40),
    # the dW GEMM is K x M -> N (40 x 24 . 24 x 16); the producer layer (1 -> 40) is one tile too.
    # Each of the three ops is one tile: SCALE-Sim's number, rows - 1.
    for dataflow in ("os", "ws", "is"):
        hw = make_hw(f"cores.array.dataflow={dataflow}", "spm.capacity_kb=1024")
        workload = single_linear(m=24, k=40, n=16)
        result = simulate(workload, hw, run_options(order="sequential", tile={"m": 64, "n": 64, "k": 64}))
        layer = scalesim_cycles(24, 16, 40, 4, 4, dataflow) + scalesim_cycles(40, 24, 16, 4, 4, dataflow)
        producer = scalesim_cycles(1, 24, 40, 4, 4, dataflow)  # dW of producer: K=1 x M=24 . 24 x N=40
        assert result.compute_cycles == layer + producer
        assert result.macs == 2 * 24 * 40 * 16 + 24 * 1 * 40


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("options", [{"pass_": "forward"}, {"order": "sequential"}, {"order": "interleaved"}])
def test_replay_and_checks_agree_with_the_engine(dataflow, options):
    # a tiled tiny_cnn on 2 cores: continuations and per-array offsets as the engine charged them
    hw = make_hw(f"cores.array.dataflow={dataflow}", "cores.count=2", "spm.capacity_kb=16")
    workload = build_model("tiny_cnn")
    run = run_options(**options)
    result = simulate(workload, hw, run)
    schedule, _ = plan(workload, hw, run)
    arrays = replay(schedule.tasks, 2, hw.cores.array)
    assert sum(array.busy_cycles for array in arrays) == result.compute_cycles
    assert check_run(result, workload, hw, run) == []
