"""MICRO'23 technique 3, data partitioning: splits, the traffic they imply, MACs, core groups, choices."""

from __future__ import annotations

import pytest
from conftest import make_hw

from npu_des.analysis.checks import check_run
from npu_des.config import LayerChoice, load_hardware, run_options
from npu_des.errors import ConfigError
from npu_des.kinds import PARTITION_SCHEMES, Scheme, TensorKind
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.schedule.orders import Region
from npu_des.schedule.partition import core_groups, default_partitions, partition_gemm, split_region
from npu_des.schedule.plan import plan
from npu_des.sim.driver import simulate
from npu_des.workload import conv

TILE_BYTES = 8 * 8 * 2


def layer_row(result, name="layer"):
    return next(row for row in result.layers if row.layer == name)


def tiles(nbytes: int) -> int:
    return nbytes // TILE_BYTES


def hand_worked(scheme: str):
    """M = N = K = 32 in 8 x 8 x 8 tiles (4 x 4 x 4 tiles of 128 B), sequential order, one core, SPM 2 KB
    (16 tiles), P = 2: each partition runs its dX pass, then its dW pass."""
    options = run_options(order="sequential", tile={"m": 8, "n": 8, "k": 8}, spm_fraction=1.0,
                          partition=scheme, partitions=2)
    return simulate(single_linear(m=32, k=32, n=32), make_hw("spm.capacity_kb=2"), options)


def test_weight_sharing_accumulates_dw_across_partitions_by_closed_form():
    """Split M: partition 0's dW pass leaves all 16 dW tiles partial (rows m = 0, 1 only); partition 1's
    dX pass then touches 16 W + 8 dY + 8 dX tiles, more than the SPM holds, so every partial dW is
    evicted (written) and read back by partition 1's first contribution: (P - 1) * 16 extra writes
    and (P - 1) * 16 reads on top of the 16 final writes. dX (split with M) is never accumulated."""
    whole = layer_row(hand_worked("none"))
    split = layer_row(hand_worked("weight-sharing"))
    assert tiles(whole.write_bytes[TensorKind.DW]) == 16 and whole.read_bytes[TensorKind.DW] == 0
    assert tiles(split.write_bytes[TensorKind.DW]) == 16 + 16
    assert tiles(split.read_bytes[TensorKind.DW]) == 16
    assert split.read_bytes[TensorKind.DX] == 0 and tiles(split.write_bytes[TensorKind.DX]) == 16


def test_dy_sharing_accumulates_dx_and_duplicates_x_by_closed_form():
    """Split N: dX[m,k] gets n = 0, 1 in partition 0 and n = 2, 3 in partition 1; partition 0's dW pass
    (16 X + 8 dY + 8 dW tiles) evicts the 16 partial dX tiles: 16 extra writes, 16 reads. X is the
    duplicated input: each partition's dW pass (k, n, m) reads every X tile once (a column of 4 X tiles
    stays across that partition's 2 n), so X is read P * 16 times instead of 16."""
    whole = layer_row(hand_worked("none"))
    split = layer_row(hand_worked("dY-sharing"))
    assert tiles(split.write_bytes[TensorKind.DX]) == 16 + 16 and tiles(split.read_bytes[TensorKind.DX]) == 16
    assert split.read_bytes[TensorKind.DW] == 0 and tiles(split.write_bytes[TensorKind.DW]) == 16
    assert tiles(whole.read_bytes[TensorKind.X]) == 16 and tiles(split.read_bytes[TensorKind.X]) == 2 * 16


def test_ifmap_sharing_accumulates_nothing():
    """Split K: dX[m,k] and dW[n,k] each belong to one partition, so both are written once, never read."""
    split = layer_row(hand_worked("ifmap-sharing"))
    assert tiles(split.write_bytes[TensorKind.DX]) == tiles(split.write_bytes[TensorKind.DW]) == 16
    assert split.read_bytes[TensorKind.DX] == split.read_bytes[TensorKind.DW] == 0


@pytest.mark.parametrize("scheme", [s.value for s in PARTITION_SCHEMES])
@pytest.mark.parametrize("order", ["sequential", "interleaved", "rearranged", "fused"])
@pytest.mark.parametrize("cores", [1, 2, 3])
def test_every_scheme_computes_each_mac_once_and_keeps_every_invariant(scheme, order, cores):
    workload = build_model("tiny_cnn")
    hw = load_hardware("edge_dual", [f"cores.count={cores}"])
    options = run_options(order=order, partition=scheme)
    result = simulate(workload, hw, options)
    assert check_run(result, workload, hw, options) == []
    gradients = {layer.name: 2 if layer.has_input_gradient else 1 for layer in workload.layers}
    assert result.macs == sum(layer.gemm.macs * gradients[layer.name] for layer in workload.layers)
    split = [name for name, choice in result.choices.items() if choice["partitions"] != "1"]
    assert split, "no layer was partitioned"
    assert all(result.choices[name]["partition"] == scheme for name in split)


def test_partitions_split_the_tiles_into_contiguous_balanced_blocks():
    whole = Region(range(2), range(7), range(3), range(4))
    blocks = split_region(whole, Scheme.WEIGHT_SHARING, 3)
    assert [block.m for block in blocks] == [range(2), range(2, 5), range(5, 7)]
    assert all(block.n == whole.n and block.k == whole.k and block.g == whole.g for block in blocks)
    assert [block.k for block in split_region(whole, Scheme.IFMAP_SHARING, 2)] == [range(2), range(2, 4)]
    assert split_region(whole, Scheme.NONE, 4) == (whole,)


def test_the_tiler_and_algorithm1_see_the_partition_gemm():
    layer = conv("c", ("x",), (16, 8, 8), 32, 3, batch=4)  # M = 256, K = 144 (16 channels x 9), N = 32
    assert partition_gemm(layer.gemm, Scheme.WEIGHT_SHARING, 2).M == 128
    assert partition_gemm(layer.gemm, Scheme.DY_SHARING, 4).N == 8
    assert partition_gemm(layer.gemm, Scheme.IFMAP_SHARING, 3).K == 6 * 9  # whole channels: ceil(16 / 3)


def test_partitions_map_to_cores_round_robin_or_share_them():
    assert core_groups(2, 2) == ((0,), (1,))
    assert core_groups(4, 2) == ((0,), (1,), (0,), (1,))
    assert core_groups(2, 4) == ((0, 2), (1, 3))
    assert default_partitions(1) == 2 and default_partitions(4) == 4


def test_on_one_core_partitions_run_one_after_another():
    options = run_options(order="interleaved", tile={"m": 8, "n": 8, "k": 8}, partition="weight-sharing")
    schedule, _ = plan(single_linear(m=32, k=16, n=16), make_hw(), options)
    rows = [task.tile[1] for task in schedule.tasks if task.layer == "layer"]
    first_of_second = rows.index(2)
    assert set(rows[:first_of_second]) == {0, 1} and set(rows[first_of_second:]) == {2, 3}


def test_a_layer_too_small_for_the_forced_scheme_keeps_fewer_partitions():
    workload = build_model("mobilenet_v1")  # depthwise convs: N = 1 per group
    hw = load_hardware("edge_dual")
    schedule, _ = plan(workload, hw, run_options(order="interleaved", partition="dY-sharing"))
    choices = schedule.layer_choices
    depthwise = next(layer.name for layer in workload.layers if layer.kind == "depthwise")
    assert choices[depthwise]["partitions"] == "1"
    assert choices["conv1"]["partitions"] == "2"


def test_a_partition_set_for_a_layer_that_cannot_fit_is_an_error():
    options = run_options(order="interleaved", layer_choices={
        "layer": LayerChoice(partition=Scheme.WEIGHT_SHARING, partitions=8)})
    with pytest.raises(ConfigError, match=r"cannot split layer 'layer'.*into 8 partitions") as error:
        plan(single_linear(m=4, k=16, n=16), make_hw(), options)
    assert error.value.field == "run.layer_choices"


@pytest.mark.slow
def test_auto_partition_takes_the_fastest_scheme_of_each_isolated_layer():
    workload = single_linear(m=64, k=64, n=32)
    hw = make_hw("spm.capacity_kb=8")
    options = run_options(order="rearranged", partition="auto")
    result = simulate(workload, hw, options)
    from npu_des.sim.autotune import layer_time

    times = {s: layer_time(workload.layers[1], hw, options, LayerChoice(partition=s))
             for s in PARTITION_SCHEMES}
    assert times[Scheme(result.choices["layer"]["partition"])] == min(times.values())
    assert check_run(result, workload, hw, options) == []
