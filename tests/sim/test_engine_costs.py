"""What the engine keeps and schedules: a timeline built on first read (or streamed to CSV) equals the one
built eagerly, a run that keeps no timeline measures exactly the same numbers, and a tile task costs at
most six SimPy events."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import make_hw

from npu_des.config import run_options
from npu_des.models import build_model
from npu_des.report.saved import load_run
from npu_des.report.tables import write_run
from npu_des.report.trace import trace_events
from npu_des.sim.driver import simulate
from npu_des.sim.records import Timeline

ORDERS = ("sequential", "interleaved")


@pytest.mark.parametrize("order", ORDERS)
def test_lazy_timeline_writes_the_same_files_and_trace_as_an_eager_one(tmp_path, order):
    hw = make_hw("cores.count=2", "spm.capacity_kb=24", "dram.bandwidth_gbps=4")
    result = simulate(build_model("tiny_cnn"), hw, run_options(order=order))
    assert isinstance(result.timeline, Timeline)
    streamed = write_run(result, tmp_path / "lazy")  # streams rows: no TimelineEvent built
    events = list(result.timeline)  # now built (and sorted) once
    eager = replace(result, timeline=events, spm_occupancy=list(result.spm_occupancy))
    written = write_run(eager, tmp_path / "eager")
    for lazy_file, eager_file in zip(streamed, written):
        assert lazy_file.read_bytes() == eager_file.read_bytes(), lazy_file.name
    assert len(result.timeline) == len(events) > 0
    assert [e.start for e in events] == sorted(e.start for e in events)
    rebuilt = write_run(result, tmp_path / "after")  # rows of an already built timeline
    assert rebuilt[2].read_bytes() == written[2].read_bytes()
    assert trace_events(load_run(tmp_path / "lazy")) == trace_events(load_run(tmp_path / "eager"))


@pytest.mark.parametrize("order", ORDERS)
def test_run_without_timeline_measures_the_same_numbers(order):
    hw = make_hw("cores.count=2", "spm.capacity_kb=24")
    workload, options = build_model("tiny_cnn"), run_options(order=order)
    full = simulate(workload, hw, options)
    bare = simulate(workload, hw, options, record_timeline=False)
    assert json.dumps(bare.summary(), sort_keys=True) == json.dumps(full.summary(), sort_keys=True)
    assert [row.flat() for row in bare.layers] == [row.flat() for row in full.layers]
    assert len(bare.timeline) == 0 and len(bare.spm_occupancy) == 0 and len(full.timeline) > 0


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("model, hardware", [("mobilenet_v1", "edge_dual"), ("resnet50", "server_dual"),
                                             ("tiny_cnn", "ethos_n77")])
def test_engine_takes_at_most_six_simpy_events_per_tile_task(model, hardware, order):
    """A law, not a timing: compute ends and DRAM completions are events; the zero-delay steps between
    them (grants, releases, data ready, AllOf) and DRAM latencies are not (npu_des/sim/clock.py)."""
    from npu_des.analysis.bench import counting_events
    from npu_des.config import load_hardware

    with counting_events() as events:
        result = simulate(build_model(model), load_hardware(hardware), run_options(order=order))
    assert result.tasks > 0 and events[0] / result.tasks <= 6
    # at least one event per computed tile and one per DRAM completion that ends a busy stretch
    assert events[0] >= result.tasks


@pytest.mark.parametrize("order", ORDERS)
def test_layer_compute_cycles_add_up_to_the_run_totals(order):
    """layers.csv compute_cycles are the charged integer cycles, so rows and totals agree exactly."""
    from npu_des.config import load_hardware

    result = simulate(build_model("mobilenet_v1"), load_hardware("edge_dual"), run_options(order=order))
    assert sum(row.compute_cycles for row in result.layers) == result.compute_cycles + result.vector_cycles
    vector = simulate(build_model("tiny_cnn"), load_hardware("edge_dual"),
                      run_options(["run.vector_ops=true"], order=order))
    assert vector.vector_cycles > 0
    assert sum(row.compute_cycles for row in vector.layers) == vector.compute_cycles + vector.vector_cycles
