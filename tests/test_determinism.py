"""Same inputs, same bytes: two separate processes (with different hash seeds) write identical result
files; and a few small runs match their golden summaries field by field (tests/golden/regenerate.py)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_regenerate", GOLDEN_DIR / "regenerate.py")
assert _spec is not None and _spec.loader is not None
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def run_in_process(out: Path, hash_seed: str) -> None:
    """`npu-des run` in a fresh interpreter; a different PYTHONHASHSEED exposes set/dict-order dependence."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    completed = subprocess.run(
        [sys.executable, "-m", "npu_des.cli", "run", "--model", "tiny_cnn", "--out", str(out), "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.slow
def test_two_processes_write_byte_identical_results(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_in_process(first, "1")
    run_in_process(second, "2")
    files = sorted(path.relative_to(first) for path in first.rglob("*") if path.is_file())
    assert {str(path) for path in files} >= {
        f"{order}/{name}"
        for order in ("sequential", "interleaved")
        for name in ("summary.json", "layers.csv", "timeline.csv")
    }
    assert files == sorted(path.relative_to(second) for path in second.rglob("*") if path.is_file())
    for path in files:
        assert (first / path).read_bytes() == (second / path).read_bytes(), (
            f"{path} differs between processes"
        )


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Field paths where two JSON values differ; floats compare to 1e-9 relative (platform libm noise)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{key}: missing" for key in expected if key not in actual]
        out += [f"{path}.{key}: unexpected" for key in actual if key not in expected]
        for key in expected.keys() & actual.keys():
            out += differences(expected[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(actual)} items, golden has {len(expected)}"]
        return [
            line
            for index, (e, a) in enumerate(zip(expected, actual))
            for line in differences(e, a, f"{path}[{index}]")
        ]
    if isinstance(expected, float) or isinstance(actual, float):
        if (
            isinstance(expected, (int, float))
            and isinstance(actual, (int, float))
            and math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)
        ):
            return []
    elif expected == actual and type(expected) is type(actual):
        return []
    return [f"{path}: {actual!r}, golden has {expected!r}"]


@pytest.mark.parametrize("name", sorted(golden.CASES))
def test_summary_matches_golden(name):
    path = GOLDEN_DIR / f"{name}.json"
    expected = json.loads(path.read_text())
    diff = differences(expected, golden.summary_of(name))
    assert not diff, (
        f"{name} differs from {path.name} (if the change is intended, run "
        f"`python tests/golden/regenerate.py` and commit the JSON):\n  " + "\n  ".join(sorted(diff))
    )


def test_every_golden_file_has_a_case():
    assert sorted(path.stem for path in GOLDEN_DIR.glob("*.json")) == sorted(golden.CASES)


def test_golden_comparison_names_the_changed_field():
    assert differences({"a": {"b": [1, 2.0]}}, {"a": {"b": [1, 2.5]}}) == [".a.b[1]: 2.5, golden has 2.0"]
    assert differences({"x": 1}, {"x": 1.0 + 1e-12}) == []
    assert differences({"x": 1}, {"y": 1}) == [".x: missing", ".y: unexpected"]


def test_bench_counts_the_same_simpy_events_every_time(tmp_path):
    """The benchmark's event count is a property of the inputs, not of the machine (npu-des bench)."""
    from npu_des.analysis.bench import bench_case
    from npu_des.cli import main

    first = bench_case("tiny_cnn", "edge_dual", "interleaved", repeats=1)
    second = bench_case("tiny_cnn", "edge_dual", "interleaved", repeats=1)
    assert first.simpy_events == second.simpy_events > first.tasks
    assert (
        main(
            [
                "bench",
                "--model",
                "tiny_cnn",
                "--hw",
                "ethos_n77",
                "--order",
                "sequential",
                "--repeats",
                "1",
                "--out",
                str(tmp_path / "bench.json"),
            ]
        )
        == 0
    )
    record = json.loads((tmp_path / "bench.json").read_text())
    assert record["runs"][0]["simpy_events"] > 0 and record["all_under_target"]
    startup = record["startup"]  # a small run in a fresh process: it simulates after it starts, exits after
    assert 0 < startup["first_simulation_seconds"] < startup["wall_seconds"]
