"""The tuned sequential baseline and the single-op / partitioned traffic estimates behind it."""

from __future__ import annotations

import pytest
from conftest import make_hw

from npu_des.config import load_hardware, run_options
from npu_des.kinds import Op
from npu_des.models import build_model, model_names
from npu_des.schedule.estimate import TileTotals, loop_traffic, total_bytes
from npu_des.schedule.plan import plan
from npu_des.schedule.tuning import fixed_estimate, tile_totals, tune_sequential, working_set_bytes
from npu_des.sim.driver import simulate
from npu_des.tiling import SpmBudget, TileGrid, TileShape, plan_tiles, task_working_set_elements
from npu_des.workload import Workload, linear


def default_grids(model: str, hw_name: str = "edge_dual"):
    workload = build_model(model)
    hw = load_hardware(hw_name)
    budget = SpmBudget.of(hw, run_options())
    layers = list(workload.layers)
    grids = plan_tiles(layers, {layer.name: i for i, layer in enumerate(layers)}, budget,
                       cores=hw.cores.count, array=hw.cores.array)
    return hw, budget, layers, grids


@pytest.mark.parametrize("model", ["resnet50", "mobilenet_v1", "bert_tiny"])
def test_fast_totals_equal_the_grids_compulsory_bytes(model):
    _, _, layers, grids = default_grids(model)
    for layer in layers:
        grid = grids[layer.name]
        fast = tile_totals(layer.gemm, grid.shape, 2, layer.has_input_gradient)
        exact = TileTotals.of(grid)
        assert dict(fast.nbytes) == dict(exact.nbytes) and dict(fast.counts) == dict(exact.counts)
        elements = task_working_set_elements(layer.gemm, grid.shape)
        assert working_set_bytes(layer.gemm, grid.shape, 2) == elements * 2


def test_tuned_baseline_never_estimates_more_bytes_than_fixed_on_any_zoo_layer():
    """Every layer of every zoo model on edge_dual: the tuned shape and loops estimate at most the fixed
    baseline's bytes (traditional loops on the tiler's shape), at no more modelled compute cycles."""
    checked = 0
    for model in model_names():
        hw, budget, layers, grids = default_grids(model)
        seen = set()
        for layer in layers:
            key = (layer.gemm, layer.has_input_gradient)
            if key in seen:
                continue
            seen.add(key)
            default = grids[layer.name]
            budget_bytes = max(budget.task_bytes, default.working_set_bytes())
            tuned = tune_sequential(layer.gemm, layer.has_input_gradient, default.shape, budget_bytes, 2,
                                    hw.spm.capacity_bytes, hw.cores.count, hw.cores.array)
            fixed = fixed_estimate(tile_totals(layer.gemm, default.shape, 2, layer.has_input_gradient),
                                   hw.spm.capacity_bytes)
            assert tuned.estimated_bytes <= fixed, (model, layer.name)
            assert working_set_bytes(layer.gemm, tuned.shape, 2) <= budget_bytes
            checked += 1
    assert checked > 250


def test_tuned_baseline_runs_with_its_own_loops_and_tiles():
    workload = build_model("resnet50")
    hw = load_hardware("edge_dual")
    fixed = simulate(workload, hw, run_options(order="sequential"))
    tuned = simulate(workload, hw, run_options(order="sequential", baseline="tuned"))
    assert tuned.compute_cycles <= fixed.compute_cycles
    assert tuned.total_dram_bytes < fixed.total_dram_bytes
    kept = {name for name, choice in tuned.choices.items() if choice["baseline"] == "tuned"}
    assert kept and {choice["baseline"] for choice in tuned.choices.values()} <= {"tuned", "fixed"}
    assert any(choice["tile"] != fixed.choices[name]["tile"] or choice["dX_loop"] != "mkn"
               for name, choice in tuned.choices.items() if name in kept)
    for name, choice in tuned.choices.items():  # a layer run as fixed has the fixed baseline's tiles
        if name not in kept:
            assert (choice["tile"], choice["dX_loop"], choice["dW_loop"]) == tuple(
                fixed.choices[name][key] for key in ("tile", "dX_loop", "dW_loop"))


def one_layer() -> Workload:
    return Workload("one", (linear("layer", (), 32, 32, rows=32),))  # a first layer: dW only


@pytest.mark.parametrize("capacity_kb", [1, 64])
@pytest.mark.parametrize(("scheme", "axis"), [("none", None), ("weight-sharing", "m"), ("dY-sharing", "n"),
                                              ("ifmap-sharing", "k")])
def test_partition_loop_estimate_is_exact_if_the_spm_thrashes_or_fits(capacity_kb, scheme, axis):
    """dW alone, 4 x 4 x 4 tiles, P = 2: the estimate's outermost partition loop re-fetches what a
    partition does not index (split M: dW is accumulated, X read per partition) exactly as simulated."""
    hw = make_hw(f"spm.capacity_kb={capacity_kb}")
    options = run_options(order="sequential", tile={"m": 8, "n": 8, "k": 8}, spm_fraction=1.0,
                          partition=scheme, partitions=2)
    schedule, _ = plan(one_layer(), hw, options)
    partition = (axis, 2) if axis else None
    totals = TileTotals.of(schedule.grids["layer"])
    estimate = loop_traffic(totals, "knm", hw.spm.capacity_bytes, Op.DW, partition)
    assert total_bytes(estimate) == simulate(one_layer(), hw, options).total_dram_bytes


def test_single_op_estimate_counts_only_the_ops_tensors():
    grid = TileGrid.build(linear("l", ("p",), 32, 32, rows=32), 0, TileShape(1, 8, 8, 8), 2)
    dx = loop_traffic(TileTotals.of(grid), "mkn", 1 << 30, Op.DX)
    assert set(dx["read"]) == {"dY", "W", "dX"} and set(dx["write"]) == {"dX"}  # dX: partial-sum reads
    assert dx["read"]["dX"] == 0
    assert total_bytes(dx) == 3 * 32 * 32 * 2  # each tensor once when everything fits


def test_tuned_baseline_keeps_tuned_tiles_only_where_the_layer_alone_runs_no_slower():
    """The estimate that picks the tuned tiles bounds modelled compute, not time; each layer keeps them
    only where its isolated simulation is no slower than with the fixed baseline's (autotune.py)."""
    from npu_des.config import LayerChoice
    from npu_des.sim.autotune import layer_time

    workload = build_model("bert_tiny", batch=4)
    hw = load_hardware("ethos_n77", ["spm.capacity_kb=1024"])
    options = run_options(order="sequential", baseline="tuned")
    tuned = simulate(workload, hw, options, record_timeline=False)
    kinds = {name: choice["baseline"] for name, choice in tuned.choices.items()}
    assert set(kinds.values()) == {"tuned", "fixed"}  # this model has layers of both kinds
    for layer in workload.layers:
        times = {baseline: layer_time(layer, hw, options, LayerChoice(baseline=baseline))
                 for baseline in ("tuned", "fixed")}
        if kinds[layer.name] == "tuned":
            assert times["tuned"] <= times["fixed"], layer.name
        else:
            assert times["tuned"] > times["fixed"], layer.name
    fixed = simulate(workload, hw, run_options(order="sequential"), record_timeline=False)
    unguarded = sum(layer_time(layer, hw, options, LayerChoice(baseline="tuned"))
                    for layer in workload.layers)
    guarded = sum(layer_time(layer, hw, options, LayerChoice(baseline=kinds[layer.name]))
                  for layer in workload.layers)
    assert guarded < unguarded and tuned.total_dram_bytes <= fixed.total_dram_bytes
