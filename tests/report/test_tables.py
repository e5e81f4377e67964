"""What `npu-des run` prints and writes: whole numbers on narrow or piped terminals, every order against
the baseline, per-layer rows that add up to the totals."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from rich.console import Console

from npu_des.config import load_hardware, run_options
from npu_des.kinds import DIRECTIONS
from npu_des.models import build_model
from npu_des.report.order_lines import bound_phrase
from npu_des.report.tables import baseline_lines, comparison_rows, print_summary, write_run
from npu_des.sim.driver import simulate

ORDERS = ({"order": "sequential"}, {"order": "interleaved"}, {"order": "fused", "loop_order": "auto"})


@pytest.fixture(scope="module")
def results():
    workload, hardware = build_model("tiny_cnn"), load_hardware("edge_dual")
    return [simulate(workload, hardware, run_options(vector_ops=True, **fields)) for fields in ORDERS]


def printed(results, **console_options) -> str:
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, **console_options))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "options", [{"width": 80}, {"width": 80, "force_terminal": True}, {"width": 60, "force_terminal": True}]
)
def test_narrow_or_piped_output_never_cuts_or_wraps_a_cell(results, options) -> None:
    text = printed(results, **options)
    assert "…" not in text
    lines = text.splitlines()
    for metric, values in comparison_rows(results):
        (line,) = [line for line in lines if line.startswith(metric + " ")]  # the whole row on one line
        position = 0
        for value in values:
            position = line.index(value, position) + len(value)  # every cell, whole and in order
    assert "\x1b[" not in text or options.get("force_terminal")


def test_a_wide_terminal_gets_the_rich_table(results) -> None:
    text = printed(results, width=200, force_terminal=True)
    assert "┃" in text and "metric" in text and "…" not in text


def test_every_order_is_compared_with_the_sequential_baseline(results) -> None:
    first, *lines = baseline_lines(results)
    sequential = results[0]
    assert first.startswith("sequential (baseline): ") and "-bound (array busy" in first
    assert [line.split(" / ")[0] for line in lines] == ["interleaved", "interleaved-auto"]
    for line, result in zip(lines, results[1:]):
        assert f"time: {result.total_cycles / sequential.total_cycles:.3f}" in line
        assert f"speedup {sequential.total_cycles / result.total_cycles:.3f}x" in line
        assert "backward alone" not in line  # backward runs: the time is the backward pass
    assert all(line in printed(results) for line in [first, *lines])
    assert baseline_lines(results[:1]) == []
    assert baseline_lines(results[1:])[1].startswith("interleaved-auto / interleaved time")


def test_bound_label_names_the_busier_resource(results) -> None:
    """Compute-bound when the arrays are busier than the DRAM channel, else memory-bound, with both shares
    as measured: array busy = busy cycles / (cores x run), DRAM busy = bytes / (bandwidth x run), and the
    share of array time stalled on SPM space or loads (summary.json `stalls`)."""
    for result in results:
        array = sum(result.core_busy_cycles) / (result.cores * result.total_cycles)
        dram = result.total_dram_bytes / (result.dram_bytes_per_cycle * result.total_cycles)
        label = "compute-bound" if array >= dram else "memory-bound"
        waits = sum(cycles for core in result.stalls.values() for reason, cycles in core.items()
                    if reason in ("spm_space", "load_contention", "load_transfer"))
        share = waits / (result.cores * result.total_cycles)
        assert bound_phrase(result) == (f"{label} (array busy {array:.0%}, DRAM busy {dram:.0%}, "
                                        f"array waiting on memory {share:.0%})")
        assert 0 < array <= 1 and 0 < dram <= 1


def test_training_lines_put_the_backward_half_and_the_tuned_baseline_beside(tmp_path: Path) -> None:
    workload, hardware = build_model("tiny_cnn", batch=2), load_hardware("micro23_small")
    runs = [simulate(workload, hardware, run_options(pass_="training", batch=2, **fields))
            for fields in ({"order": "sequential"}, {"order": "sequential", "baseline": "tuned"},
                           {"order": "rearranged"})]
    base, tuned, rearranged = runs
    line = baseline_lines(runs)[2]
    ratio = rearranged.total_cycles / base.total_cycles
    backward = rearranged.passes["backward"].total_cycles / base.passes["backward"].total_cycles
    assert line.startswith(f"rearranged / sequential time: {ratio:.3f}")
    assert f"/ sequential {rearranged.total_cycles / tuned.total_cycles:.3f}" in line  # the tuned one
    assert f"backward alone {backward:.3f}" in line
    rows = dict(comparison_rows(runs))
    assert rows["  forward time"] == [f"{r.passes['forward'].seconds * 1e3:.3f} ms" for r in runs]
    assert rows["  backward time"][0] == f"{base.passes['backward'].seconds * 1e3:.3f} ms"
    assert rows["  backward DRAM"][2] == f"{rearranged.passes['backward'].total_dram_bytes / 1e6:.2f} MB"
    assert len(rows) == len(comparison_rows(runs))  # every metric named once


@pytest.mark.parametrize("fields", [{"pass_": "forward"}, {"vector_ops": True}])
def test_layers_csv_byte_columns_add_up_to_the_totals(tmp_path: Path, fields: dict) -> None:
    """Forward runs move Y (and vector ops read it): layers.csv carries read_Y / write_Y, so every
    direction and kind of summary.json's byte table is the sum of its column."""
    result = simulate(build_model("tiny_cnn"), load_hardware("edge_dual"), run_options(**fields))
    write_run(result, tmp_path)
    with (tmp_path / "layers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "read_Y" in rows[0] and "write_Y" in rows[0]
    for direction in DIRECTIONS:
        for kind, total in result.dram_bytes[direction].items():
            assert sum(int(row[f"{direction}_{kind}"]) for row in rows) == total, (direction, kind)
    moved = sum(
        int(value) for row in rows for key, value in row.items() if key.startswith(("read_", "write_"))
    )
    assert moved == result.total_dram_bytes > 0


def test_forward_summary_title_says_forward() -> None:
    result = simulate(build_model("tiny_cnn"), load_hardware("edge_dual"), run_options(pass_="forward"))
    assert printed([result]).startswith("tiny_cnn forward on edge_dual")
