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
    lines = baseline_lines(results)
    sequential = results[0]
    assert [line.split(" / ")[0] for line in lines] == ["interleaved", "interleaved-auto"]
    for line, result in zip(lines, results[1:]):
        assert f"time: {result.total_cycles / sequential.total_cycles:.3f}" in line
        assert f"speedup {sequential.total_cycles / result.total_cycles:.3f}x" in line
    assert all(line in printed(results) for line in lines)
    assert baseline_lines(results[:1]) == []
    assert baseline_lines(results[1:])[0].startswith("interleaved-auto / interleaved time")


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
