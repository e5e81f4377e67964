"""Per-layer bounds and the roofline: every point lies under both roofs, labels follow the larger bound,
bandwidth utilisation is bytes over bandwidth x time."""

from __future__ import annotations

import pytest

from npu_des.analysis.bounds import Bound
from npu_des.analysis.explain import explain
from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate

CASES = [
    ("tiny_cnn", "edge_dual", ()),
    ("tiny_cnn", "ethos_n77", ()),
    ("tiny_cnn", "edge_dual", ("dram.bandwidth_gbps=0.5",)),  # memory-bound
    ("single_linear", "server_dual", ()),
    ("tiny_cnn", "edge_dual", ("cores.array.zero_skipping=true",)),
]


@pytest.mark.parametrize(("model", "preset", "overrides"), CASES)
@pytest.mark.parametrize("order", ["sequential", "interleaved"])
def test_every_roofline_point_lies_under_the_roof(model, preset, overrides, order):
    workload = single_linear(64, 256, 128) if model == "single_linear" else build_model(model)
    hw = load_hardware(preset, list(overrides))
    option = run_options(order=order, density=0.5 if overrides and "zero" in overrides[0] else 1.0)
    result = explain(simulate(workload, hw, option), workload, hw, option)
    bounds = result.analyses["bounds"]
    peak = hw.cores.count * hw.cores.array.rows * hw.cores.array.cols
    assert bounds["peak_macs_per_cycle"] == peak
    for layer, columns in result.layer_analyses.items():
        achieved = columns["macs_per_cycle"]
        assert achieved <= peak * (1 + 1e-9), layer
        if columns["arithmetic_intensity"] != float("inf"):
            assert achieved <= columns["arithmetic_intensity"] * hw.dram_bytes_per_cycle * (1 + 1e-9), layer
        compute, memory = columns["compute_bound_cycles"], columns["memory_bound_cycles"]
        larger = max(compute, memory)
        label = Bound.COMPUTE if compute >= memory else Bound.MEMORY
        assert columns["bound"] == label
        assert columns["window_cycles"] >= larger * (1 - 1e-9), layer  # no layer beats its bounds
    utilisation = result.total_dram_bytes / (hw.dram_bytes_per_cycle * result.total_cycles)
    assert bounds["dram_bandwidth_utilisation"] == pytest.approx(utilisation)
    assert 0 < utilisation <= 1


def test_low_bandwidth_makes_layers_memory_bound():
    workload = build_model("tiny_cnn")
    labels = {}
    for bandwidth in (0.2, 2000):
        hw = load_hardware("edge_dual", [f"dram.bandwidth_gbps={bandwidth}"])
        option = run_options(order="sequential")
        result = explain(simulate(workload, hw, option), workload, hw, option)
        labels[bandwidth] = [columns["bound"] for columns in result.layer_analyses.values()]
    assert set(labels[0.2]) == {"memory"}
    assert set(labels[2000]) == {"compute"}


def test_layer_windows_run_from_the_layers_first_to_its_last_compute_or_transfer():
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    option = run_options(order="interleaved")
    result = explain(simulate(workload, hw, option), workload, hw, option)
    work: dict[str, list[float]] = {}
    for event in result.timeline:  # built events, independently of the logs the bounds read
        if event.layer and not event.resource.endswith(".stall"):  # a stall is a wait, not the layer's work
            work.setdefault(event.layer, []).extend((event.start, event.end))
    assert set(work) == set(result.layer_analyses)
    for layer, times in work.items():
        columns = result.layer_analyses[layer]
        assert (columns["window_start"], columns["window_end"]) == (min(times), max(times)), layer
