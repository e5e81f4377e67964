"""The README and docs/api.md examples run as written, docs link only inside the repository, and the
example input files in examples/ load and simulate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from npu_des.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_api_example_runs_verbatim(capsys) -> None:
    readme = ROOT / "README.md"
    (block,) = [b for b in python_blocks(readme) if "npu_des.simulate" in b]
    exec(compile(block, str(readme), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    cycles, dram_bytes = out[0].split()
    assert float(cycles) > 0 and int(dram_bytes) > 0
    assert out[-1].endswith("timeline events")


@pytest.mark.parametrize("index", [0, 1])
def test_api_doc_examples_run_verbatim(index: int, capsys) -> None:
    block = python_blocks(ROOT / "docs" / "api.md")[index]
    exec(compile(block, "docs/api.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_api_summary_layers_and_timeline_agree_with_the_result() -> None:
    import npu_des

    run = npu_des.simulate("tiny_cnn", "edge_dual", order="sequential", overrides=["dram.bandwidth_gbps=6"])
    assert run.summary["hardware"] == "edge_dual" and run.summary["dram_bytes_per_cycle"] == pytest.approx(
        6 / run.summary["clock_ghz"]
    )
    assert list(run.layers["layer"]) == [row.layer for row in run.result.layers]
    assert int(run.layers["read_dY"].sum()) == run.summary["dram_bytes"]["read"]["dY"]
    assert max(event.end for event in run.timeline) == pytest.approx(run.summary["total_cycles"])
    with pytest.raises(npu_des.ConfigError, match=r"nope"):
        npu_des.simulate("nope")


def test_docs_link_only_inside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)", path.read_text()):
            if "://" in target:
                continue
            assert (path.parent / target).resolve().is_relative_to(ROOT), (path.name, target)
            assert (path.parent / target).exists(), (path.name, target)
        assert "../shared" not in path.read_text(), path.name


def test_scalesim_example_topology_and_cfg_simulate(tmp_path: Path) -> None:
    argv = [
        "run",
        "--topology",
        str(EXAMPLES / "scalesim" / "tiny_net.csv"),
        "--scalesim-cfg",
        str(EXAMPLES / "scalesim" / "scale.cfg"),
        "--order",
        "sequential",
        "--pass",
        "backward",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["hardware"] == "example_32x32_ws" and summary["cores"] == 1
    assert summary["spm"]["capacity_bytes"] == (256 + 256 + 128) * 1024
    # USER ports: ifmap 8 + filter 4 + ofmap 4 words/cycle share one channel, x 1 byte at 1 GHz
    assert summary["dram_bytes_per_cycle"] == 16
    rows = (tmp_path / "layers.csv").read_text().splitlines()[1:]
    assert [row.split(",")[:2] for row in rows] == [
        ["Conv1", "conv"],
        ["Conv2", "conv"],
        ["DP_Conv3", "depthwise"],
        ["Conv4", "conv"],
        ["FC", "linear"],
    ]


def test_custom_hardware_yaml_and_density_file(tmp_path: Path) -> None:
    import npu_des

    hardware = npu_des.load_hardware(str(EXAMPLES / "my_npu.yaml"))
    assert (hardware.name, hardware.cores.count, hardware.cores.array.rows, hardware.spm.capacity_kb) == (
        "my_npu",
        2,
        32,
        512,
    )
    dense = npu_des.simulate(
        "tiny_cnn", hardware, order="sequential", overrides=["cores.array.zero_skipping=true"]
    )
    sparse = npu_des.simulate(
        "tiny_cnn",
        hardware,
        order="sequential",
        overrides=["cores.array.zero_skipping=true"],
        density_file=str(EXAMPLES / "densities.yaml"),
    )
    assert sparse.summary["compute_cycles"] < dense.summary["compute_cycles"]  # sparse dW tiles skip zeros
    by_layer = dict(zip(sparse.layers["layer"], sparse.layers["compute_cycles"]))
    dense_by_layer = dict(zip(dense.layers["layer"], dense.layers["compute_cycles"]))
    assert by_layer["conv1"] == dense_by_layer["conv1"]  # not in the file: density 1
    assert by_layer["conv2"] < dense_by_layer["conv2"]


@pytest.mark.slow
def test_sparse_gradients_quick_runs_and_writes_its_table(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / "sparse_gradients.py"),
            "--quick",
            "--jobs",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    table = (tmp_path / "sparse_gradients.csv").read_text().splitlines()
    assert len(table) == 1 + 4 * 2  # header, 4 machines x 2 densities


@pytest.mark.slow
def test_micro23_quick_writes_its_tables_beside_the_papers(tmp_path: Path) -> None:
    """experiments/micro23.py --quick: every table is written, each main cell has the paper's value where
    the paper published one, the baselines normalise to 1 and forward + backward = forward + backward."""
    import csv
    import os
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "micro23.py"), "--quick", "--jobs", "2", "--out",
         str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for name in ("micro23.csv", "means.csv", "dy_share.csv", "diagnosis.csv", "fig12_steps.png",
                 "fig14_16_trends.svg"):
        assert (tmp_path / name).stat().st_size > 0, name
    with (tmp_path / "micro23.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    main = [row for row in rows if row["trend"] == "main"]
    assert {row["npu"] for row in main} == {"small", "large"}
    for row in main:
        assert float(row["fb_cycles"]) == float(row["fwd_cycles"]) + float(row["bwd_cycles"])
        if row["config"] == "sequential":
            assert float(row["fb_cycles_vs_fixed"]) == 1.0 and float(row["bwd_bytes_vs_fixed"]) == 1.0
        if row["config"] == "sequential-tuned":
            assert float(row["fb_cycles_vs_tuned"]) == 1.0
        published = row["config"] in ("interleaved", "rearranged", "partitioned", "dw_dy_free")
        assert (row["paper"] != "") == published, row
    trends = {row["trend"] for row in rows}
    assert {"cores", "bandwidth", "batch", "element"} <= trends
    partitioned = [line for line in completed.stdout.splitlines() if line.startswith("│ partitioned ")]
    beside = [line for line in partitioned if re.search(r"\d\.\d{3} \(0\.\d{3}\)", line)]
    assert len(beside) >= 2  # the forward+backward tables of both NPUs carry the paper's values
