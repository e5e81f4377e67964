"""Plots and traces of saved runs: files written, trace faithful to the timeline, plotted data within
bounds."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npu_des.cli import main
from npu_des.config import load_hardware, run_options
from npu_des.models import build_model
from npu_des.report.gantt import gantt_data, lane_layout
from npu_des.report.intervals import coverage_per_bin, merge_intervals, step_envelope
from npu_des.report.layer_bars import layer_bytes
from npu_des.report.saved import layer_window, load_runs
from npu_des.report.tables import read_timeline, write_run
from npu_des.report.trace import UNIT_NAMES, trace_events
from npu_des.sim.driver import simulate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Chrome trace-event format, the parts Perfetto's JSON importer relies on.
TRACE_SCHEMA = {
    "type": "object",
    "required": ["traceEvents"],
    "properties": {
        "traceEvents": {
            "type": "array",
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["name", "ph", "ts", "dur", "pid", "tid", "args"],
                        "properties": {
                            "ph": {"const": "X"},
                            "name": {"type": "string", "minLength": 1},
                            "ts": {"type": "number", "minimum": 0},
                            "dur": {"type": "number", "minimum": 0},
                            "pid": {"type": "integer"},
                            "tid": {"type": "integer"},
                            "args": {
                                "type": "object",
                                "required": ["layer", "op", "tile", "bytes", "direction"],
                                "properties": {"bytes": {"type": "integer", "minimum": 0}},
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["name", "ph", "pid", "args"],
                        "properties": {
                            "ph": {"const": "M"},
                            "pid": {"type": "integer"},
                            "tid": {"type": "integer"},
                            "name": {
                                "enum": [
                                    "process_name",
                                    "thread_name",
                                    "process_sort_index",
                                    "thread_sort_index",
                                ]
                            },
                            "args": {"type": "object", "minProperties": 1},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["name", "ph", "ts", "pid", "args"],
                        "properties": {
                            "ph": {"const": "C"},
                            "ts": {"type": "number", "minimum": 0},
                            "pid": {"type": "integer"},
                            "args": {
                                "type": "object",
                                "minProperties": 1,
                                "additionalProperties": {"type": "number"},
                            },
                        },
                    },
                ]
            },
        }
    },
}


@pytest.fixture(scope="module")
def both_orders_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_cnn on edge_dual in both orders, saved as `npu-des run --out DIR` would."""
    directory = tmp_path_factory.mktemp("tiny_both")
    workload, hardware = build_model("tiny_cnn"), load_hardware("edge_dual")
    results = [
        simulate(workload, hardware, run_options(order=order)) for order in ("sequential", "interleaved")
    ]
    for result in results:
        write_run(result, directory / result.order)
    (directory / "comparison.json").write_text(json.dumps({r.order: r.summary() for r in results}))
    return directory


@pytest.mark.slow
def test_plot_writes_gantt_and_layer_charts_for_both_orders(both_orders_dir: Path, capsys) -> None:
    assert main(["plot", str(both_orders_dir)]) == 0
    printed = capsys.readouterr().out
    for name in ("gantt.png", "gantt.svg", "layer_bytes.png", "layer_bytes.svg"):
        assert (both_orders_dir / name).stat().st_size > 5_000, name
        assert f"wrote {both_orders_dir / name}" in printed
    assert (both_orders_dir / "gantt.png").read_bytes()[:8] == PNG_MAGIC
    assert "<svg" in (both_orders_dir / "gantt.svg").read_text()[:2000]


@pytest.mark.slow
def test_run_plot_and_trace_write_charts_and_trace_into_out(tmp_path: Path) -> None:
    argv = [
        "run",
        "--model",
        "tiny_cnn",
        "--order",
        "sequential",
        "--out",
        str(tmp_path),
        "--plot",
        "--trace",
    ]
    assert main(argv) == 0
    for name in ("gantt.png", "gantt.svg", "layer_bytes.png", "trace.json"):
        assert (tmp_path / name).stat().st_size > 1_000, name
    jsonschema.validate(json.loads((tmp_path / "trace.json").read_text()), TRACE_SCHEMA)


@pytest.mark.slow
def test_zoom_by_window_and_by_layer_write_their_own_files(both_orders_dir: Path) -> None:
    assert main(["plot", str(both_orders_dir), "--window", "1000:3000", "--formats", "png"]) == 0
    assert (both_orders_dir / "gantt_1000-3000.png").stat().st_size > 5_000
    assert main(["plot", str(both_orders_dir / "interleaved"), "--layer", "conv2", "--formats", "png"]) == 0
    assert (both_orders_dir / "interleaved" / "gantt_conv2.png").stat().st_size > 5_000


def test_layer_window_is_the_union_of_the_layers_spans_across_orders(both_orders_dir: Path) -> None:
    runs = load_runs(both_orders_dir)
    spans = [run.layer_span("conv2") for run in runs]
    assert layer_window("conv2", runs) == (min(s for s, _ in spans), max(e for _, e in spans))


def test_trace_matches_chrome_trace_schema(both_orders_dir: Path) -> None:
    for run in load_runs(both_orders_dir):
        jsonschema.validate(trace_events(run), TRACE_SCHEMA)


def _resources_by_pid_tid(events: list[dict]) -> dict[tuple[int, int], str]:
    """Map (pid, tid) back to a timeline resource name through the metadata events."""
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    units = {name: unit for unit, name in UNIT_NAMES.items()}  # "systolic array" -> array, "stalls" -> stall
    resources = {}
    for e in events:
        if e["name"] == "thread_name":
            process, thread = processes[e["pid"]], e["args"]["name"]
            unit = units.get(thread.split(" #")[0], "") if process.startswith("core") else ""
            resources[(e["pid"], e["tid"])] = f"{process}.{unit}" if unit else "dram"
    return resources


def test_trace_slices_match_timeline_one_for_one(both_orders_dir: Path) -> None:
    for run in load_runs(both_orders_dir):
        trace = trace_events(run)["traceEvents"]
        resources = _resources_by_pid_tid(trace)
        slices = [e for e in trace if e["ph"] == "X"]
        timeline = read_timeline(run.directory / "timeline.csv")
        assert len(slices) == len(timeline) > 0
        us_per_cycle = run.summary["seconds"] / run.total_cycles * 1e6

        def key(resource: str, kind: str, direction: str, layer: str, op: str, tile: str) -> tuple[str, ...]:
            return resource, kind, direction, layer, op, tile

        expected = sorted(
            (
                key(e.resource, e.kind, e.direction, e.layer, e.op, e.tile),
                e.start * us_per_cycle,
                e.duration * us_per_cycle,
            )
            for e in timeline
        )
        actual = sorted(
            (
                key(
                    resources[(s["pid"], s["tid"])],
                    s["args"]["kind"],
                    s["args"]["direction"],
                    s["args"]["layer"],
                    s["args"]["op"],
                    s["args"]["tile"],
                ),
                s["ts"],
                s["dur"],
            )
            for s in slices
        )
        for (want_key, want_ts, want_dur), (got_key, got_ts, got_dur) in zip(expected, actual):
            assert got_key == want_key
            assert got_ts == pytest.approx(want_ts, abs=1e-3)  # rounded to whole ns
            assert got_dur == pytest.approx(want_dur, abs=2e-3)


def test_trace_slices_never_overlap_on_one_thread(both_orders_dir: Path) -> None:
    """Perfetto nests slices on a thread; overlapping DMA transfers must be spread over slot threads."""
    for run in load_runs(both_orders_dir):
        by_thread: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for e in trace_events(run)["traceEvents"]:
            if e["ph"] == "X":
                start = round(e["ts"] * 1000)
                by_thread.setdefault((e["pid"], e["tid"]), []).append((start, start + round(e["dur"] * 1000)))
        for intervals in by_thread.values():
            intervals.sort()
            assert all(later[0] >= earlier[1] for earlier, later in pairwise(intervals))


def test_trace_spm_counter_never_exceeds_capacity_and_ends_at_last_sample(both_orders_dir: Path) -> None:
    for run in load_runs(both_orders_dir):
        counters = [e for e in trace_events(run)["traceEvents"] if e["ph"] == "C"]
        assert counters and max(c["args"]["used_bytes"] for c in counters) <= run.spm_capacity_bytes
        assert counters[-1]["args"]["used_bytes"] == run.spm_used_bytes[-1]


@pytest.mark.parametrize("pixels", [2000, 7])  # 7 pixels forces the per-bin maximum envelope
def test_plotted_spm_occupancy_stays_under_capacity_and_keeps_the_peak(
    both_orders_dir: Path, pixels: int
) -> None:
    runs = load_runs(both_orders_dir)
    lanes = lane_layout(runs)
    for run in runs:
        data = gantt_data(run, lanes, (0.0, run.total_cycles), pixels=pixels)
        assert data.spm_used_bytes.max() <= run.spm_capacity_bytes
        assert data.spm_used_bytes.max() == run.spm_used_bytes.max()  # downsampling never hides the peak
        assert np.all(data.spm_pinned_bytes <= data.spm_used_bytes)


def test_merged_bars_cover_every_event_of_their_strip(both_orders_dir: Path) -> None:
    runs = load_runs(both_orders_dir)
    lanes = lane_layout(runs)
    for run in runs:
        data = gantt_data(run, lanes, (0.0, run.total_cycles), pixels=50)
        bars = {(b.row.resource, *b.row.key): b for b in data.bars}
        for event in run.timeline:
            if event.resource != "dram":
                strip = bars[(event.resource, event.kind, event.direction)]
                inside = (strip.starts <= event.start) & (strip.ends >= event.end)
                assert inside.any(), event


def test_dram_bandwidth_recovered_from_busy_time_is_the_presets(both_orders_dir: Path) -> None:
    """Under processor sharing the channel moves peak bytes/cycle whenever busy, so bytes / busy =
    bandwidth."""
    runs = load_runs(both_orders_dir)
    lanes = lane_layout(runs)
    for run in runs:
        data = gantt_data(run, lanes, (0.0, run.total_cycles))
        assert data.dram_bandwidth_gbps == pytest.approx(12.8, rel=1e-6)  # edge_dual: 12.8 GB/s
        assert np.all((data.dram_utilisation >= 0) & (data.dram_utilisation <= 1 + 1e-9))


def test_layer_bars_conserve_the_runs_dram_bytes(both_orders_dir: Path) -> None:
    runs = load_runs(both_orders_dir)
    data = layer_bytes(runs)
    assert data.orders == ["sequential", "interleaved"]
    for index, run in enumerate(runs):
        assert data.bytes[index].sum() == run.summary["total_dram_bytes"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--window", "1e12:2e12"], "field '--window': '1e12:2e12' is outside the run"),
        (["--window", "10-20"], "field '--window': '10-20' is not START:END"),
        (["--window", "500:100"], "needs START < END"),
        (["--layer", "conv9"], "field '--layer': unknown layer 'conv9'"),
        (["--layer", "conv2", "--window", "0:10"], "either --window or --layer"),
        (["--formats", "gif"], "field '--formats'"),
    ],
)
def test_bad_zoom_is_one_line_exit_2(both_orders_dir: Path, capsys, extra: list[str], expected: str) -> None:
    assert main(["plot", str(both_orders_dir), *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith("npu-des: error:") and expected in error and error.count("\n") == 1


def test_directory_without_results_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "no run results here" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text("{}")
    assert main(["plot", str(tmp_path)]) == 2
    assert "missing layers.csv, timeline.csv, spm.csv" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_run_plot_without_out_is_one_line_exit_2(capsys) -> None:
    assert main(["run", "--model", "tiny_cnn", "--plot"]) == 2
    assert "field '--plot': needs --out DIR" in capsys.readouterr().err


intervals = st.lists(st.tuples(st.floats(0, 1e4), st.floats(0, 1e3)), max_size=40).map(
    lambda pairs: (np.array([s for s, _ in pairs]), np.array([s + w for s, w in pairs]))
)


@given(intervals, st.floats(0, 100))
def test_merge_covers_each_interval_and_leaves_gaps_wider_than_asked(pairs, gap: float) -> None:
    starts, ends = pairs
    merged_starts, merged_ends = merge_intervals(starts, ends, gap)
    for start, end in zip(starts, ends):
        assert np.any((merged_starts <= start) & (merged_ends >= end))
    assert np.all(merged_starts[1:] > merged_ends[:-1] + gap)


@given(intervals)
def test_coverage_per_bin_integrates_to_the_union_length(pairs) -> None:
    starts, ends = pairs
    edges = np.linspace(0.0, 11_000.0, 23)
    coverage = coverage_per_bin(starts, ends, edges)
    union_starts, union_ends = merge_intervals(starts, ends)
    assert np.all((coverage >= -1e-9) & (coverage <= 1 + 1e-9))
    assert float(np.sum(coverage * np.diff(edges))) == pytest.approx(
        float(np.sum(union_ends - union_starts)), abs=1e-6
    )


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=60), st.integers(1, 20))
def test_step_envelope_keeps_the_maximum_of_the_window(values: list[int], bins: int) -> None:
    cycles = np.arange(len(values), dtype=np.float64)
    x, y = step_envelope(cycles, np.array(values), 0.0, float(len(values)), bins)
    assert x.size == y.size and y.max() == max(values)
