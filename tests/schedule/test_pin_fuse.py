"""Pin or fuse (CGO'23): the SPM policy oracle, the forward pass, fused layer groups and the pin planner."""

from __future__ import annotations

import pytest
from conftest import make_hw
from hypothesis import given, settings
from hypothesis import strategies as st

from npu_des.analysis.oracle import Access, access_sequence, replay, replay_schedule, slot_capacity
from npu_des.config import run_options
from npu_des.errors import ConfigError
from npu_des.kinds import TensorKind, TileKey
from npu_des.schedule.plan import plan
from npu_des.schedule.planner import PinCandidate, alive_peak, check_pins_fit, greedy_pins, optimal_pins
from npu_des.schedule.tasks import TileRef
from npu_des.workload import Workload, conv, linear

# --- oracle ----------------------------------------------------------------------------------


@st.composite
def small_workloads(draw: st.DrawFn) -> Workload:
    """A chain of 1-3 random linear or conv layers."""
    layers = []
    if draw(st.booleans()):
        rows = draw(st.integers(1, 48))
        width = draw(st.integers(1, 48))
        for index in range(draw(st.integers(1, 3))):
            out = draw(st.integers(1, 48))
            layers.append(linear(f"l{index}", (f"l{index - 1}",) if index else (), width, out, rows=rows))
            width = out
    else:
        channels, size = draw(st.integers(1, 8)), draw(st.integers(3, 10))
        for index in range(draw(st.integers(1, 3))):
            out, kernel = draw(st.integers(1, 12)), draw(st.sampled_from([1, 3]))
            layer = conv(
                f"c{index}", (f"c{index - 1}",) if index else (), (channels, size, size), out, kernel
            )
            layers.append(layer)
            channels, size = out, layer.out_shape[1]
    return Workload("random", tuple(layers))


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(small_workloads(), st.sampled_from(["sequential", "interleaved"]), st.integers(3, 40))
def test_opt_misses_never_exceed_lru_in_the_slot_model(workload, order, slots):
    hw = make_hw("spm.capacity_kb=64")
    schedule, _ = plan(workload, hw, run_options(order=order, tile={"m": 4, "n": 4, "k": 9}))
    accesses = access_sequence(schedule.tasks)
    lru = replay(accesses, slots, "lru")
    opt = replay(accesses, slots, "opt")
    assert opt.misses <= lru.misses
    assert opt.hits + opt.misses == lru.hits + lru.misses  # same references that need content
    assert opt.allocations == lru.allocations


def _ref(name: int, nbytes: int = 10) -> TileRef:
    return TileRef(TileKey(0, 0, 0, name, 0), TensorKind.X, "l", nbytes)


def test_opt_beats_lru_on_a_cyclic_stream():
    # a b c a b c ... with 2 slots: LRU evicts exactly the tile needed next, so all 12 miss;
    # OPT evicts the farther of the two residents, so every other reference after the first three hits.
    accesses = [Access(step, _ref(step % 3), True, False, False) for step in range(12)]
    lru, opt = replay(accesses, 2, "lru"), replay(accesses, 2, "opt")
    assert lru.misses == 12
    assert (
        opt.misses == 7
    )  # Belady: misses at steps 0,1,2,4,6,8,10 (one of two resident tiles is always next)
    assert opt.read_bytes == 70


def test_dirty_partial_sum_evicted_is_written_and_read_back():
    out = TileRef(TileKey(0, 3, 0, 0, 0), TensorKind.DX, "l", 100)
    accesses = [
        Access(0, _ref(1), True, False, False),
        Access(0, out, False, True, False),
        Access(1, _ref(2), True, False, False),
        Access(1, _ref(3), True, False, False),
        Access(2, _ref(4), True, False, False),
        Access(2, out, True, True, True),
    ]
    result = replay(accesses, 2, "lru")
    assert result.misses == 5  # four inputs and the partial sum read back
    assert result.write_bytes == 200  # evicted dirty once, final write once


def test_capacity_below_one_task_is_refused():
    accesses = [Access(0, _ref(1), True, False, False), Access(0, _ref(2), True, False, False)]
    with pytest.raises(ValueError, match="cannot hold one task"):
        replay(accesses, 1, "opt")


def test_replay_schedule_reports_both_policies():
    from npu_des.models import build_model

    hw = make_hw("spm.capacity_kb=24")
    schedule, _ = plan(build_model("tiny_cnn"), hw, run_options(order="sequential"))
    results = replay_schedule(schedule, hw.spm.capacity_bytes)
    assert results["opt"].misses <= results["lru"].misses
    assert results["lru"].capacity == slot_capacity(hw.spm.capacity_bytes, access_sequence(schedule.tasks))


# --- forward pass ----------------------------------------------------------------------------


def test_forward_pass_with_big_spm_moves_each_feature_map_once():
    from npu_des.models import build_model
    from npu_des.sim.driver import simulate

    workload = build_model("tiny_cnn")
    result = simulate(
        workload, make_hw("cores.count=2", "spm.capacity_kb=65536"), run_options(pass_="forward")
    )
    assert result.order == "forward"
    assert result.macs == workload.macs
    assert result.dram_bytes["read"]["X"] == result.compulsory_bytes["X"]
    assert (
        result.dram_bytes["write"]["Y"]
        == result.compulsory_bytes["Y"]
        == sum(2 * layer.gemm.M * layer.gemm.N * layer.gemm.groups for layer in workload.layers)
    )
    assert result.dram_bytes["read"]["dY"] == 0 and result.dram_bytes["write"]["dX"] == 0


def test_forward_ops_wait_for_their_producers():
    from npu_des.models import build_model
    from npu_des.sim.driver import simulate

    workload = build_model("tiny_cnn")
    result = simulate(workload, make_hw("cores.count=2", "spm.capacity_kb=24"), run_options(pass_="forward"))
    rows = {row.layer: row for row in result.layers}
    for layer in workload.layers:
        for producer in layer.inputs:
            assert rows[layer.name].start >= rows[producer].end


# --- fusion ----------------------------------------------------------------------------------


def _chain(image: int = 12) -> Workload:
    """conv 3x3 -> depthwise 3x3 -> pointwise 1x1, the MobileNet-style chain fusion targets."""
    a = conv("a", (), (4, image, image), 8, 3)
    b = conv("b", ("a",), (8, image, image), 8, 3, groups=8)
    c = conv("c", ("b",), (8, image, image), 8, 1)
    return Workload("chain", (a, b, c))


def test_fusion_never_writes_or_reads_a_fused_intermediate():
    from npu_des.sim.driver import simulate

    hw = make_hw("cores.count=2", "spm.capacity_kb=16")
    result = simulate(_chain(), hw, run_options(pass_="forward", fuse=("a+b+c",)))
    transfers = [e for e in result.timeline if e.resource.endswith(".dma")]
    assert not [e for e in transfers if e.layer in ("a", "b") and e.kind == "Y"]
    assert not [e for e in transfers if e.layer in ("b", "c") and e.kind == "X"]
    assert result.dram_bytes["write"]["Y"] == 2 * 8 * 12 * 12  # only c's output, once
    assert result.choices["b"]["fused_group"] == "a+b+c"


def test_fusion_pays_the_halo_in_recomputed_macs():
    from npu_des.schedule.fusion import row_spans
    from npu_des.sim.driver import simulate

    workload = _chain()
    hw = make_hw("cores.count=1", "spm.capacity_kb=16")
    plain = simulate(workload, hw, run_options(pass_="forward"))
    fused = simulate(workload, hw, run_options(pass_="forward", fuse=("a+b+c",)))
    rows = int(fused.choices["c"]["fused_rows"])
    # c is 1x1 (no halo), b is 3x3 stride 1 pad 1: rows [r, r+t) of b need a's rows [r-1, r+t+1) clipped
    assert row_spans(list(workload.layers), 0, rows) == [(0, min(12, rows + 1)), (0, rows), (0, rows)]
    a_rows = sum(min(12, first + rows + 1) - max(0, first - 1) for first in range(0, 12, rows))
    extra = (a_rows - 12) * 12 * workload.layers[0].gemm.K * 8
    assert fused.macs - plain.macs == extra > 0


def test_unfusable_group_is_one_config_error():
    from npu_des.cli import main

    with pytest.raises(ConfigError, match=r"not the only consumer|unknown layer"):
        plan(_chain(), make_hw(), run_options(pass_="forward", fuse=("a+c",)))
    assert main(["run", "--model", "tiny_cnn", "--pass", "forward", "--set", "run.fuse=[conv1+conv2]"]) == 2


# --- pin planner ---------------------------------------------------------------------------


def _pin(name: str, nbytes: int, saving: int, start: int) -> PinCandidate:
    return PinCandidate(name, nbytes, saving, start, start + 1)


def test_greedy_takes_the_best_ratio_and_blocks_both_neighbours():
    # budget 10: b (5 B, saves 6) has the best ratio, but alive together with a or c it needs 11 B,
    # so greedy ends with 6 saved; a and c never coexist ([0,1] and [2,3]), so the optimum pins both: 12.
    candidates = [_pin("a", 6, 6, 0), _pin("b", 5, 6, 1), _pin("c", 6, 6, 2)]
    assert [p.tensor for p in greedy_pins(candidates, 10)] == ["b"]
    assert [p.tensor for p in optimal_pins(candidates, 10)] == ["a", "c"]
    assert alive_peak(optimal_pins(candidates, 10))[0] == 6


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 20), st.integers(0, 20)), min_size=1, max_size=7), st.integers(1, 40)
)
def test_optimal_pins_equal_brute_force_and_beat_greedy(sizes, budget):
    candidates = [_pin(f"t{i}", nbytes, saving, i) for i, (nbytes, saving) in enumerate(sizes)]
    best = 0
    for mask in range(1 << len(candidates)):
        chosen = [c for i, c in enumerate(candidates) if mask >> i & 1]
        if alive_peak(chosen)[0] <= budget:
            best = max(best, sum(c.saving for c in chosen))
    optimal, greedy = optimal_pins(candidates, budget), greedy_pins(candidates, budget)
    assert alive_peak(optimal)[0] <= budget and alive_peak(greedy)[0] <= budget
    assert sum(c.saving for c in optimal) == best >= sum(c.saving for c in greedy)


def test_pins_of_layers_apart_share_the_spm_in_time():
    # a [0,1] and c [2,3] are never alive together: 12 B of pins fit a 6 B budget; b [1,2] overlaps both.
    check_pins_fit([_pin("a", 6, 0, 0), _pin("c", 6, 0, 2)], 6)
    with pytest.raises(ConfigError, match=r"pins a, b hold 0.0 KB .* over"):
        check_pins_fit([_pin("a", 6, 0, 0), _pin("b", 1, 0, 1)], 6)


def test_planned_dy_pins_are_read_once_and_pinned_bytes_fit():
    from npu_des.models import build_model
    from npu_des.sim.driver import simulate

    workload = build_model("tiny_cnn")
    # 16 KB SPM, 8 KB in flight: sequential reads conv2's 8 KB dY 3x and conv3's 4 KB 1.9x; they are
    # neighbours in backward order (12 KB together), so the optimum pins conv2 alone (saves 16 KB).
    order = "sequential"
    hw = make_hw("cores.count=2", "spm.capacity_kb=16", "dram.bandwidth_gbps=4")
    options = run_options(order=order, pin_plan="optimal")
    result = simulate(workload, hw, options)
    schedule, _ = plan(workload, hw, options)
    pinned = [name for name, choice in result.choices.items() if choice.get("pinned") == "dY"]
    assert pinned == ["conv2"]
    for row in result.layers:
        if row.layer in pinned:
            assert row.read_bytes["dY"] == schedule.grids[row.layer].compulsory_bytes()["dY"]
    assert max(p for _, _, p in result.spm_occupancy) <= hw.spm.capacity_bytes
    assert max(p for _, _, p in result.spm_occupancy) > 0
    unpinned = simulate(workload, hw, run_options(order=order))
    assert result.dram_bytes["read"]["dY"] < unpinned.dram_bytes["read"]["dY"]


def test_backward_pins_of_layers_apart_may_exceed_the_budget_together():
    from npu_des.models import build_model
    from npu_des.sim.driver import simulate

    # 16 KB SPM, 8 KB in flight, so 8 KB for pins. conv4's dY (4 KB, backward position 1) and conv1's
    # (8 KB, position 4) sum to 12 KB, which the old all-pins check refused; they are never alive
    # together (conv1's ops wait for conv4's to finish), so pinned bytes peak at 8 KB.
    hw = make_hw("cores.count=2", "spm.capacity_kb=16", "dram.bandwidth_gbps=4")
    result = simulate(
        build_model("tiny_cnn"), hw, run_options(order="sequential", pins=("conv4:dY", "conv1:dY"))
    )
    assert max(p for _, _, p in result.spm_occupancy) == 8192
    rows = {row.layer: row for row in result.layers}
    assert rows["conv1"].read_bytes["dY"] == 8192 and rows["conv4"].read_bytes["dY"] == 4096
    with pytest.raises(ConfigError, match=r"pins conv3:dY, conv2:dY hold 12\.0 KB"):
        plan(build_model("tiny_cnn"), hw, run_options(order="sequential", pins=("conv3:dY", "conv2:dY")))


def test_forward_pinned_feature_map_never_touches_dram():
    from npu_des.sim.driver import simulate

    hw = make_hw("cores.count=2", "spm.capacity_kb=64")
    result = simulate(_chain(), hw, run_options(pass_="forward", pins=("a:Y", "b:Y")))
    transfers = [e for e in result.timeline if e.resource.endswith(".dma")]
    assert not [e for e in transfers if e.layer in ("a", "b") and e.kind == "Y"]
    assert not [e for e in transfers if e.layer in ("b", "c") and e.kind == "X"]
    assert result.dram_bytes["write"]["Y"] == 2 * 8 * 12 * 12  # only c's output
    assert result.choices["a"]["pinned"] == "Y->b"
    # a's Y and b's Y are alive together while b runs: 2 x 2304 B
    assert max(p for _, _, p in result.spm_occupancy) == 2 * 8 * 144 * 2
    plain = simulate(_chain(), hw, run_options(pass_="forward"))
    assert plain.macs == result.macs


def test_forward_plans_never_move_more_feature_map_bytes_than_layer_by_layer():
    from npu_des.sim.driver import simulate

    hw = make_hw("cores.count=2", "spm.capacity_kb=64")

    def feature_map_bytes(**kw):
        result = simulate(_chain(), hw, run_options(pass_="forward", **kw))
        return result.dram_bytes["read"]["X"] + result.dram_bytes["write"]["Y"]

    neither = feature_map_bytes()
    assert feature_map_bytes(pin_plan="optimal") < neither
    assert feature_map_bytes(pin_plan="optimal", fuse=("auto",)) <= feature_map_bytes(
        pin_plan="greedy", fuse=("auto",)
    )


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (
            [
                "--pass",
                "forward",
                "--hw",
                "edge_dual",
                "--pin",
                "conv3:Y",
                "--set",
                "cores.count=1",
                "--set",
                "run.prefetch_depth=0",
                "--set",
                "run.spm_fraction=0.9",
                "--set",
                "spm.capacity_kb=16",
            ],
            "pins conv3:Y hold 4.0 KB",
        ),
        (["--pass", "forward", "--pin", "conv1:Y"], "does not feed only the next layer"),
        (["--pass", "forward", "--pin", "conv1:dY"], "LAYER:Y"),
        (["--pass", "backward", "--pin", "conv1:dY", "--set", "run.pin_plan=optimal"], "not both"),
    ],
)
def test_bad_pin_plan_is_one_line_and_exit_2(argv, expect, capsys):
    from npu_des.cli import main

    assert main(["run", "--model", "tiny_cnn", "--order", "sequential", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expect in err, err


def test_fused_halo_of_a_dilated_conv_covers_its_span():
    """A 3x3 conv at dilation 2 ('same' padding 2) reads input rows [r - 2, r + 2] for output row r: the
    fused tile's input rows and the recovered padding come from the 5-row span, not the 3-row kernel."""
    from npu_des.schedule.fusion import input_rows, padding_of

    dilated = conv("d", (), (4, 16, 16), 4, 3, dilation=2)
    assert dilated.gemm.conv is not None and dilated.gemm.conv.out_h == 16
    assert padding_of(dilated) == 2
    assert input_rows(dilated, 0, 1) == (0, 3)       # rows -2..2, clipped at the top
    assert input_rows(dilated, 5, 7) == (3, 9)       # rows 3..8: output rows 5 and 6 with +-2 each
    assert input_rows(dilated, 15, 16) == (13, 16)   # rows 13..17, clipped at the bottom
    undilated = conv("u", (), (4, 16, 16), 4, 3)
    assert padding_of(undilated) == 1 and input_rows(undilated, 5, 7) == (4, 8)
