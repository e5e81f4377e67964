"""The tiler picks tiles that cost no cycles SCALE-Sim's whole GEMM does not, and refuses huge plans
before searching tile shapes."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from conftest import make_hw
from hypothesis import given, settings
from hypothesis import strategies as st

from npu_des.config import run_options
from npu_des.errors import ConfigError
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate
from npu_des.tiling import SpmBudget, TileGrid, TileShape, shapes
from npu_des.tiling.compute_model import scalesim_cycles
from npu_des.tiling.grid import layer_tasks, minimum_layer_tasks
from npu_des.tiling.shapes import channels_touched, choose_tile_shape, largest_patch_pixels, split
from npu_des.workload import Workload, conv, linear
from npu_des.workload.layers import ConvGeometry


def valid_conv(out_h: int, out_w: int, kernel: int, stride: int, batch: int) -> tuple[ConvGeometry, int]:
    """An unpadded conv with that output, and its M."""
    in_h, in_w = (out_h - 1) * stride + kernel, (out_w - 1) * stride + kernel
    return ConvGeometry(batch, in_h, in_w, out_h, out_w, kernel, kernel, stride), batch * out_h * out_w


@settings(max_examples=60, deadline=None)
@given(out_h=st.integers(1, 9), out_w=st.integers(1, 9), kernel=st.integers(1, 3), stride=st.integers(1, 2),
       batch=st.integers(1, 3), tm=st.integers(1, 90))
def test_largest_patch_is_the_max_over_every_m_tile(out_h, out_w, kernel, stride, batch, tm):
    geometry, m = valid_conv(out_h, out_w, kernel, stride, batch)
    assert largest_patch_pixels(geometry, m, tm) == max(
        geometry.patch_pixels(start, size) for start, size in split(m, tm))


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_default_forward_tiles_of_a_gemm_too_big_for_the_spm_cost_scalesims_whole_gemm(dataflow):
    # 96 x 80 . 80 x 72 (2-byte elements: 42 KB of operands) in a 16 KB SPM on 4x4: the tiler splits on
    # fold boundaries and along the streamed axis, where tiles continue each other, so no cycle is added.
    hw = make_hw(f"cores.array.dataflow={dataflow}", "spm.capacity_kb=16", "dram.bandwidth_gbps=1e6")
    workload = Workload("one", (linear("fc", (), 80, 72, rows=96),))
    result = simulate(workload, hw, run_options(pass_="forward"))
    assert result.layers[0].tasks > 1
    assert result.compute_cycles == scalesim_cycles(96, 80, 72, 4, 4, dataflow)


def test_forward_tiles_are_scored_by_the_forward_op():
    # OS forward streams K: the tiler keeps K whole and splits M, N on fold boundaries; scored by the
    # backward ops (dX streams N, dW streams M) it would choose another shape.
    hw = make_hw("spm.capacity_kb=16", "dram.bandwidth_gbps=1e6")
    workload = Workload("one", (linear("fc", (), 80, 72, rows=96),))
    forward, _ = plan(workload, hw, run_options(pass_="forward"))
    backward, _ = plan(workload, hw, run_options())
    assert forward.grids["fc"].shape.tk == 80
    assert forward.grids["fc"].shape != backward.grids["fc"].shape


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 5000), k=st.integers(1, 3000), n=st.integers(1, 3000), budget_kb=st.integers(1, 64))
def test_task_lower_bound_never_exceeds_the_tiles_chosen(m, k, n, budget_kb):
    layer = linear("fc", (), k, n, rows=m)
    shape = choose_tile_shape(layer.gemm, budget_kb * 1024, 2)
    if shape is not None:
        bound = minimum_layer_tasks(layer, budget_kb * 1024, 2, forward=True)
        assert bound <= layer_tasks(layer, shape, True)


def test_conv_task_lower_bound_holds_for_a_strided_conv():
    layer = conv("c", (), (64, 57, 57), 128, 3, stride=2, padding=1, batch=2)
    budget = SpmBudget.of(make_hw("spm.capacity_kb=32"), run_options())
    shape = choose_tile_shape(layer.gemm, budget.task_bytes, 2)
    assert shape is not None
    assert minimum_layer_tasks(layer, budget.task_bytes, 2, forward=False) <= layer_tasks(layer, shape, False)


@pytest.mark.parametrize(("layer", "at_least"), [
    (conv("huge_image", (), (3, 100_000, 100_000), 16, 3, padding=1), False),  # hung the tiler
    (linear("huge_gemm", (), 10**10, 10**10, rows=10**10), True),  # 10^30 MACs: MemoryError
])
def test_plans_that_would_never_finish_are_refused_with_an_estimate(layer, at_least):
    hw = make_hw("spm.capacity_kb=256")
    with pytest.raises(ConfigError) as refused:
        plan(Workload("big", (layer,)), hw, run_options(pass_="forward"))
    message = str(refused.value)
    assert "tile tasks" in message and "run.max_tasks" in message and "tasks/s" in message
    assert ("at least" in message) == at_least


def test_refusal_after_the_search_names_the_smallest_tiles():
    # lower bound (2,661 tasks) below the limit, the chosen 4x4x128 tiles (65,536) above it
    layer = linear("fc", (), 512, 512, rows=512)
    hw = make_hw("spm.capacity_kb=16")
    with pytest.raises(ConfigError, match="tiles as small as") as refused:
        plan(Workload("one", (layer,)), hw, run_options(pass_="forward", max_tasks=10_000))
    assert "at least" not in str(refused.value)


@settings(max_examples=40, deadline=None)
@given(out_h=st.integers(1, 40), out_w=st.integers(1, 40), kernel=st.integers(1, 3), stride=st.integers(1, 2),
       batch=st.integers(1, 2), tm=st.integers(1, 200))
def test_bounded_largest_patch_never_undercounts(out_h, out_w, kernel, stride, batch, tm):
    geometry, m = valid_conv(out_h, out_w, kernel, stride, batch)
    exact = largest_patch_pixels(geometry, m, tm)
    with patch.object(shapes, "EXACT_HALO_TILES", 0):  # force the bound
        assert largest_patch_pixels(geometry, m, tm) >= exact


def test_strided_4k_conv_tiles_whole_fractions_of_an_output_row():
    # a stride-2 1x1 conv on a 1080 x 1920 map: a tile straddling two output rows would carry two full
    # input rows of every channel, so tiles are fractions of the 960-pixel output row, not single pixels
    layer = conv("c", (), (256, 1080, 1920), 512, 1, stride=2, padding=0)
    shape = choose_tile_shape(layer.gemm, 96 * 1024, 1)
    assert shape is not None and shape.tm > 1
    assert 960 % shape.tm == 0 or shape.tm % 960 == 0


def test_fold_aligned_k_tiles_read_a_split_channel_in_both_tiles():
    # 3x3 conv over 8 channels (K = 72), K tiles of 32 rows: [0, 32) touches channels 0-3, [32, 64)
    # channels 3-7 (channel 3 split), [64, 72) channel 7: 4 + 5 + 1 = 10 channel patches of 6x6 pixels
    layer = conv("c", (), (8, 6, 6), 4, 3, padding=1)
    grid = TileGrid.build(layer, 0, TileShape(1, layer.gemm.M, 4, 32), 2)
    assert [grid.channels(k) for k in range(3)] == [4, 5, 1]
    assert sum(grid.x_bytes(0, 0, k) for k in range(3)) == 10 * 36 * 2
    assert channels_touched(32, 9) == 5 and channels_touched(27, 9) == 3


def test_scalesim_192kb_config_keeps_every_weight_stationary_layer_exact():
    # SCALE-Sim's scale.cfg (32x32, 3 x 64 KB, CALC): MobileNet's stride-2 3x3 layer (K = 576 = 64 3x3
    # channels) streams one 32-row K fold at a time; 32 rows split a channel, which both tiles read
    layer = conv("Conv4", (), (64, 112, 112), 1, 3, stride=2, padding=0)
    hw = make_hw("cores.array.rows=32", "cores.array.cols=32", "cores.array.dataflow=ws",
                 "spm.capacity_kb=192", "bytes_per_element=1", "dram.bandwidth_gbps=1e6")
    result = simulate(Workload("one", (layer,)), hw, run_options(pass_="forward"))
    gemm = layer.gemm
    assert result.compute_cycles == scalesim_cycles(gemm.M, gemm.K, gemm.N, 32, 32, "ws")
