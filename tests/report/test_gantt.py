"""The Gantt chart draws what the timeline says: busy share per pixel column, busy shares over each
run's own span, layer marks, stall lanes, SPM in use apart from cached."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from npu_des.config import load_hardware, run_options
from npu_des.kinds import TensorKind
from npu_des.metrics import TimelineEvent
from npu_des.models import build_model
from npu_des.report.gantt import gantt_data, lane_layout
from npu_des.report.gantt_data import drawn_heights
from npu_des.report.saved import SavedRun, load_runs
from npu_des.report.spm_use import operand_tiles, referenced_curve
from npu_des.report.style import LAYER_LABEL_MIN_SHARE, MIN_VISIBLE_SHARE
from npu_des.report.tables import write_run
from npu_des.report.trace import trace_events
from npu_des.sim import plan
from npu_des.sim.driver import simulate


@pytest.fixture(scope="module")
def both_orders_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gantt_both")
    workload, hardware = build_model("tiny_cnn"), load_hardware("edge_dual")
    results = [simulate(workload, hardware, run_options(order=o)) for o in ("sequential", "interleaved")]
    for result in results:
        write_run(result, directory / result.order)
    (directory / "comparison.json").write_text(json.dumps({r.order: r.summary() for r in results}))
    return directory


def synthetic_run(
    timeline: list[TimelineEvent], total: float, layers: list[dict[str, str]] | None = None, cores: int = 1
) -> SavedRun:
    """A SavedRun built by hand: 1 GHz, a 1 MiB SPM that stays empty."""
    summary = {
        "model": "synthetic",
        "hardware": "hand",
        "order": "sequential",
        "cores": cores,
        "total_cycles": total,
        "seconds": total / 1e9,
        "spm": {"capacity_bytes": 2**20},
        "options": {"pass": "backward"},
    }
    return SavedRun(
        Path("synthetic"),
        summary,
        layers or [],
        timeline,
        np.zeros(1),
        np.zeros(1, np.int64),
        np.zeros(1, np.int64),
    )


def brute_force_busy(events: list[TimelineEvent], edges: np.ndarray) -> np.ndarray:
    """Per bin, the covered fraction of the union of the events, by a plain sweep (no numpy tricks)."""
    spans: list[list[float]] = []
    for event in sorted(events, key=lambda e: e.start):
        if spans and event.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], event.end)
        else:
            spans.append([event.start, event.end])
    fractions = []
    for left, right in pairwise(edges):
        covered = sum(max(0.0, min(b, right) - max(a, left)) for a, b in spans)
        fractions.append(covered / (right - left))
    return np.array(fractions)


def drawn_column_heights(figure, gid: str, columns: np.ndarray) -> np.ndarray:
    """Read the drawn height of every pixel column back from the strip's PolyCollection."""
    collection = next(c for ax in figure.axes for c in ax.collections if c.get_gid() == gid)
    heights = np.zeros(columns.size - 1)
    centres = (columns[:-1] + columns[1:]) / 2
    for path in collection.get_paths():
        xs, ys = path.vertices[:, 0], path.vertices[:, 1]
        inside = (centres > xs.min()) & (centres < xs.max())
        heights[inside] = ys.max() - ys.min()
    return heights


def test_a_quarter_busy_array_draws_quarter_high_columns_not_a_solid_bar() -> None:
    """10 cycles of work every 40 cycles, 2000 times: far more events than pixels, 25% busy everywhere."""
    from npu_des.report.gantt_draw import STRIP_HEIGHT, render, strip_gid

    timeline = [
        TimelineEvent("core0.array", 40.0 * i, 40.0 * i + 10, "dX", "l", "dX", "0.0.0.0", 0, "")
        for i in range(2000)
    ]
    run = synthetic_run(timeline, 80_000.0)
    lanes = lane_layout([run])
    data = gantt_data(run, lanes, (0.0, 80_000.0), pixels=200)
    bars = next(b for b in data.bars if b.row.key == ("dX", ""))
    assert np.allclose(bars.fraction, 0.25)
    assert data.lane_busy["core0.array"] == pytest.approx(0.25)
    figure = render([data], lanes)
    drawn = drawn_column_heights(figure, strip_gid(bars), data.columns) / STRIP_HEIGHT
    assert np.allclose(drawn, 0.25)


def test_drawn_busy_share_per_column_equals_the_timelines_busy_share(both_orders_dir: Path) -> None:
    from npu_des.report.gantt_draw import STRIP_HEIGHT, render, strip_gid

    runs = load_runs(both_orders_dir)
    lanes = lane_layout(runs)
    for run in runs:
        data = gantt_data(run, lanes, (0.0, run.total_cycles), pixels=120)
        figure = render([data], lanes)
        checked = 0
        for bars in data.bars:
            events = [
                e
                for e in run.timeline
                if (e.resource, e.kind, e.direction) == (bars.row.resource, *bars.row.key)
            ]
            expected = brute_force_busy(events, data.columns)
            assert bars.fraction == pytest.approx(expected, abs=1e-9)
            if not events:
                continue
            drawn = drawn_column_heights(figure, strip_gid(bars), data.columns) / STRIP_HEIGHT
            floor = np.where(expected > 0, np.maximum(expected, MIN_VISIBLE_SHARE), 0.0)
            assert drawn == pytest.approx(floor, abs=1e-9)
            checked += 1
        assert checked >= 6


def test_busy_shares_are_over_each_runs_own_span(both_orders_dir: Path) -> None:
    runs = load_runs(both_orders_dir)
    lanes = lane_layout(runs)
    window = (0.0, max(run.total_cycles for run in runs))
    for run in runs:
        data = gantt_data(run, lanes, window)
        assert data.span_end == run.total_cycles
        for core, busy in enumerate(run.summary["core_busy_cycles"]):
            assert data.lane_busy[f"core{core}.array"] == pytest.approx(busy / run.total_cycles, rel=1e-9)
        dram = sum(e.duration for e in run.timeline if e.resource == "dram")
        assert data.dram_busy_share == pytest.approx(dram / run.total_cycles, rel=1e-9)


def test_layer_marks_follow_layers_csv_and_labels_never_collide(both_orders_dir: Path) -> None:
    for run in load_runs(both_orders_dir):
        window = (0.0, run.total_cycles)
        marks = gantt_data(run, lane_layout([run]), window).layers
        assert sorted(m.name for m in marks) == sorted(row["layer"] for row in run.layers)
        assert [m.start for m in marks] == sorted(float(row["start"]) for row in run.layers)
        labelled = [m for m in marks if m.labelled]
        assert labelled, "the widest layer is always labelled"
        widest = max(marks, key=lambda m: m.end - m.start)
        assert widest.labelled
        assert all(m.end - m.start >= LAYER_LABEL_MIN_SHARE * run.total_cycles for m in labelled)


def test_stall_events_get_a_lane_per_core_and_trace_slices() -> None:
    timeline = [
        TimelineEvent("core0.array", 0.0, 50.0, "dX", "conv1", "dX", "0.0.0.0", 100, ""),
        TimelineEvent("core0.stall", 50.0, 80.0, "operands", "conv1", "dX", "", 0, ""),
        TimelineEvent("core0.stall", 80.0, 90.0, "dependency", "conv1", "dW", "", 0, ""),
        TimelineEvent("core1.stall", 0.0, 90.0, "no work", "", "", "", 0, ""),
    ]
    run = synthetic_run(timeline, 100.0, cores=2)
    lanes = {lane.resource: lane for lane in lane_layout([run])}
    assert [row.label for row in lanes["core0.stall"].rows] == ["dependency", "operands"]
    assert lanes["core0.stall"].name == "core0 stalls"
    data = gantt_data(run, list(lanes.values()), (0.0, 100.0), pixels=100)
    assert data.lane_busy["core0.stall"] == pytest.approx(0.4)
    assert data.lane_busy["core1.stall"] == pytest.approx(0.9)
    colours = {row.label: row.colour for row in (*lanes["core0.stall"].rows, *lanes["core1.stall"].rows)}
    assert colours["operands"] != colours["dependency"]
    trace = trace_events(run)["traceEvents"]
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace if e["name"] == "thread_name"}
    stalls = [e for e in trace if e["ph"] == "X" and e["cat"] == "stall"]
    assert sorted(e["name"] for e in stalls) == [
        "stall: dependency conv1",
        "stall: no work",
        "stall: operands conv1",
    ]
    assert {threads[(e["pid"], e["tid"])] for e in stalls} == {"stalls"}
    assert {e["args"]["kind"] for e in stalls} == {"operands", "dependency", "no work"}


def test_operand_tiles_match_the_schedules_tile_refs() -> None:
    """The SPM-in-use curve maps a compute event's tile to its operands' keys the way TaskList does."""
    workload, hardware = build_model("tiny_cnn"), load_hardware("edge_dual")
    for options in (
        run_options(order="interleaved"),
        run_options(pass_="forward"),
        run_options(order="sequential", vector_ops=True),
    ):
        schedule, _ = plan(workload, hardware, options)
        for task in schedule.tasks:
            refs = [*task.inputs, task.output]
            expected = sorted((str(ref.kind), ".".join(map(str, ref.key[2:]))) for ref in refs)
            got = sorted(operand_tiles(task.op, ".".join(map(str, task.tile))))
            assert got == expected, task


@pytest.mark.parametrize("order", ["sequential", "interleaved"])
def test_spm_in_use_stays_under_the_allocated_bytes(order: str) -> None:
    result = simulate(build_model("mobilenet_v1"), load_hardware("edge_dual"), run_options(order=order))
    cycles, referenced = referenced_curve(result.timeline)
    occupancy = np.array(result.spm_occupancy, dtype=np.float64)
    used = occupancy[np.searchsorted(occupancy[:, 0], cycles, side="right") - 1, 1]
    assert np.all(referenced <= used)
    assert referenced.max() > 0 and referenced[-1] == 0
    # LRU keeps the SPM nearly full, while far less is in use: the panel tells them apart
    assert np.mean(referenced) < 0.8 * np.mean(used)


def test_heights_floor_only_busy_columns() -> None:
    heights = drawn_heights(np.array([0.0, 0.01, 0.5, 1.0]))
    assert heights.tolist() == [0.0, MIN_VISIBLE_SHARE, 0.5, 1.0]


def test_forward_title_and_y_colours_are_distinct(tmp_path: Path) -> None:
    from npu_des.report.gantt_draw import render
    from npu_des.report.layer_bars import layer_bytes
    from npu_des.report.style import COMPUTE_COLOURS, LOAD_COLOURS, STORE_COLOURS

    result = simulate(build_model("tiny_cnn"), load_hardware("edge_dual"), run_options(pass_="forward"))
    write_run(result, tmp_path)
    runs = load_runs(tmp_path)
    lanes = lane_layout(runs)
    figure = render([gantt_data(runs[0], lanes, (0.0, runs[0].total_cycles))], lanes)
    assert figure.get_suptitle().startswith("tiny_cnn forward on edge_dual")
    data = layer_bytes(runs)
    assert ("write", TensorKind.Y) in data.columns
    assert data.bytes[0].sum() == runs[0].summary["total_dram_bytes"]
    colours = [*COMPUTE_COLOURS.values(), *LOAD_COLOURS.values(), *STORE_COLOURS.values()]
    assert len(set(colours)) == len(colours)
    strips = {row.legend: row.colour for lane in lanes for row in lane.rows}
    assert strips["compute Y"] != strips["store Y"]
