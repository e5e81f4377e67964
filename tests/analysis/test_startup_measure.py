"""The start-up measurement (npu_des/analysis/startup.py): what it reads and what the trace marks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npu_des.analysis.startup import (
    ImportCost,
    StartupRecord,
    by_package,
    libraries_only,
    measure,
    parse_importtime,
    top_imports,
)
from npu_des.sim.start_trace import TRACE_START_ENV

# `python -X importtime` prints a child before its parent, two spaces of indent per level
SAMPLE = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |     numpy._core
import time:       300 |        420 |   numpy
import time:        50 |        470 | npu_des.tiling
npu-des: warning: something the command itself printed
import time:        80 |         80 | json
1764590000.123456 0.250000
import time:        90 |         90 | rich
"""


def test_importtime_lines_parse_into_depth_own_and_cumulative_microseconds():
    costs = parse_importtime(SAMPLE)  # up to the first-simulation mark: rich came after it
    assert costs == [ImportCost("numpy._core", 120, 120, 2), ImportCost("numpy", 300, 420, 1),
                     ImportCost("npu_des.tiling", 50, 470, 0), ImportCost("json", 80, 80, 0)]
    assert [c.module for c in top_imports(costs)] == ["npu_des.tiling", "json"]  # top level, costliest first
    assert [c.module for c in top_imports(costs, depth=1, top=2)] == ["npu_des.tiling", "numpy"]
    assert by_package(costs) == [("numpy", 420), ("json", 80), ("npu_des", 50)]


@pytest.mark.slow
def test_first_simulation_is_marked_once_per_process_inside_its_life(tmp_path: Path):
    trace = tmp_path / "marks"
    start = time.time()
    subprocess.run([sys.executable, "-m", "npu_des", "run", "--model", "tiny_cnn", "--pass", "backward",
                    "--order", "both"], env={**os.environ, TRACE_START_ENV: str(trace)},
                   capture_output=True, check=True)
    end = time.time()
    marks = [[float(value) for value in line.split()] for line in trace.read_text().splitlines()]
    assert len(marks) == 1  # two orders simulate twice; only the first simulation is the start-up's end
    wall, cpu = marks[0]
    assert start < wall < end
    assert cpu > 0


@pytest.mark.slow
def test_measured_start_is_the_first_simulation_or_the_whole_command_without_one():
    run = measure(("run", "--model", "tiny_cnn", "--pass", "backward", "--order", "sequential"), repeats=1)
    [sample] = run.samples
    assert sample.first_simulation_seconds is not None and sample.first_simulation_cpu_seconds is not None
    assert 0 < sample.first_simulation_seconds < sample.wall_seconds
    assert 0 < sample.first_simulation_cpu_seconds < sample.cpu_seconds  # one thread's part of the whole
    assert run.start_seconds == sample.first_simulation_seconds
    helped = measure(("--help",), repeats=1)
    assert helped.median("first_simulation_seconds") is None
    assert helped.start_seconds == helped.samples[0].wall_seconds


def test_the_floor_is_a_bare_interpreter_importing_the_libraries():
    floor = StartupRecord(libraries_only(), [])
    assert floor.command == "python -c 'import pydantic.main, yaml, networkx, numpy, simpy'"
    assert StartupRecord(("run", "--model", "tiny_cnn"), []).command == "npu-des run --model tiny_cnn"
