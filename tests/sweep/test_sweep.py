"""Sweeps: cartesian expansion, resumable durable table, executor independence, one-line user errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from npu_des.cli import main
from npu_des.sweep.runner import run_sweep
from npu_des.sweep.spec import build_spec, split_list
from npu_des.sweep.table import CSV, JOURNAL, load_sweep

TINY = ("tiny_cnn",)


def test_cartesian_expansion_covers_every_combination_once_with_orders_adjacent() -> None:
    spec = build_spec(TINY, ("edge_dual", "ethos_n77"), ("sequential", "interleaved"),
                      ["dram.bandwidth_gbps=6,11,22", "run.prefetch_depth=0,1"])
    points = spec.points()
    # 1 model x 2 hw x 3 bandwidths x 2 depths x 2 orders
    assert len(points) == 24
    assert len({point.id for point in points}) == 24
    combos = {(p.hardware, p.settings, p.order) for p in points}
    assert (
        "ethos_n77",
        (("dram.bandwidth_gbps", "11"), ("run.prefetch_depth", "1")),
        "interleaved",
    ) in combos
    assert [p.order for p in points[:2]] == ["sequential", "interleaved"]
    assert points[0].settings == points[1].settings


def test_list_values_split_on_top_level_commas_only() -> None:
    assert split_list("6, 11,22") == ["6", "11", "22"]
    assert split_list("[a:dY,b:dY],[c:dY]") == ["[a:dY,b:dY]", "[c:dY]"]
    assert split_list("{m: 8, n: 8, k: 8}") == ["{m: 8, n: 8, k: 8}"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("dram.bandwith_gbps=6,11", "unknown key; did you mean 'bandwidth_gbps'?"),
        ("dram.bandwidth_gbps=6,fast", "valid number"),
        ("run.batch=1,two", "valid integer"),
        ("dram.bandwidth_gbps=", "empty value"),
        ("dram.bandwidth_gbps=6,,11", "empty value"),
        ("run.spm_fraction=0.5,0.5", "repeated value"),
    ],
)
def test_bad_sweep_values_are_one_line_errors_before_anything_runs(
    setting: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            "--model",
            "tiny_cnn",
            "--set",
            "run.prefetch_depth=0,1",
            "--set",
            setting,
            "--out",
            str(out),
            "--quiet",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2
    assert message in error
    assert error.count("\n") == 1
    assert not out.exists()


def _table(directory: Path) -> str:
    return (directory / CSV).read_text()


@pytest.mark.slow
def test_resume_after_sigkill_computes_only_missing_points_and_matches_uninterrupted(tmp_path: Path) -> None:
    bandwidths = ",".join(str(value) for value in range(2, 42))
    args = [
        "--model",
        "tiny_cnn",
        "--hw",
        "edge_dual",
        "--set",
        f"dram.bandwidth_gbps={bandwidths}",
        "--set",
        "run.prefetch_depth=0,1",
        "--jobs",
        "2",
        "--quiet",
    ]
    total = 40 * 2 * 2
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "npu_des.cli", "sweep", *args, "--out", str(killed)]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    journal = killed / JOURNAL
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 10:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its pool workers, mid-sweep
    process.wait()
    finished_before = journal.read_text().count("\n")
    assert 10 <= finished_before < total, "the sweep should have been killed part-way"
    with journal.open("a") as handle:  # a row torn by the kill must not survive
        handle.write('{"point": "torn')

    resumed = subprocess.run([*command, "--resume"], check=False, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    lines = journal.read_text().splitlines()
    assert len(lines) == total
    assert len({json.loads(line)["point"] for line in lines}) == total

    whole = tmp_path / "whole"
    run_sweep(
        build_spec(
            TINY,
            ("edge_dual",),
            ("sequential", "interleaved"),
            [f"dram.bandwidth_gbps={bandwidths}", "run.prefetch_depth=0,1"],
        ),
        whole,
        jobs=2,
        quiet=True,
    )
    assert _table(killed) == _table(whole)


def test_existing_sweep_needs_resume_and_resume_rejects_a_different_sweep(tmp_path: Path) -> None:
    spec = build_spec(TINY, ("edge_dual",), ("sequential",), ["dram.bandwidth_gbps=6,11"])
    run_sweep(spec, tmp_path, jobs=1, quiet=True)
    sweep = ["sweep", "--model", "tiny_cnn", "--order", "sequential", "--out", str(tmp_path), "--quiet"]
    assert main([*sweep, "--set", "dram.bandwidth_gbps=6,11"]) == 2
    assert main([*sweep, "--set", "dram.bandwidth_gbps=6", "--resume"]) == 2
    # adding values to a finished sweep is allowed: only the new point runs
    wider = build_spec(TINY, ("edge_dual",), ("sequential",), ["dram.bandwidth_gbps=6,11,22"])
    assert len(run_sweep(wider, tmp_path, jobs=1, quiet=True, resume=True)) == 3
    assert (tmp_path / JOURNAL).read_text().count("\n") == 3


@pytest.mark.slow
def test_process_pool_and_dask_cluster_give_identical_tables(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = build_spec(
        TINY,
        ("edge_dual", "ethos_n77"),
        ("sequential", "interleaved"),
        ["dram.bandwidth_gbps=6,22"],
        variants=("baseline", "dy_once"),
    )
    with ProcessPoolExecutor(max_workers=2) as pool:
        local = run_sweep(spec, tmp_path / "local", executor=pool, quiet=True)
    # two threads in one worker: dy_once and baseline points must not affect each other
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_sweep(spec, tmp_path / "dask", executor=client.get_executor(), quiet=True)
    assert len(local) == 16
    assert local == remote
    assert _table(tmp_path / "local") == _table(tmp_path / "dask")


def test_dy_once_variant_reads_each_dy_tile_from_dram_exactly_once(tmp_path: Path) -> None:
    # a 4 KB SPM cannot keep tiny_cnn's dY tiles between their dX and dW uses, so the baseline re-reads them
    spec = build_spec(
        TINY, ("ethos_n77",), ("sequential",), ["spm.capacity_kb=4"], variants=("baseline", "dy_once")
    )
    base, ideal = run_sweep(spec, tmp_path, jobs=1, quiet=True)
    assert (base["variant"], ideal["variant"]) == ("baseline", "dy_once")
    assert not base["error"] and not ideal["error"]
    assert base["read_dY"] > ideal["read_dY"] == ideal["compulsory_dY"] == base["compulsory_dY"]
    assert ideal["read_X"] == base["read_X"] and ideal["read_W"] == base["read_W"]


@pytest.mark.slow
def test_plot_sweep_writes_png_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "sweep",
                "--model",
                "tiny_cnn",
                "--hw",
                "edge_dual,ethos_n77",
                "--set",
                "dram.bandwidth_gbps=6,11,22",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    spec, frame = load_sweep(tmp_path)
    assert len(frame) == 12 and spec.keys == ["dram.bandwidth_gbps"]
    assert main(["plot-sweep", str(tmp_path)]) == 0
    for name in ("normalized_time", "absolute_time"):
        for suffix in (".png", ".svg"):
            assert (tmp_path / "plots" / f"{name}{suffix}").stat().st_size > 1000


def test_sweep_rows_carry_the_stall_attribution_summed_over_cores() -> None:
    """Every core's cycles are compute or one stall reason, so the row's stall_* columns add up to
    cores x run time (experiments/micro23.py reads them to say what bounds a baseline)."""
    from npu_des.sweep.runner import run_point
    from npu_des.sweep.spec import Point

    row = run_point(Point("tiny_cnn", "edge_dual", "sequential"))
    stalls = {key: value for key, value in row.items() if key.startswith("stall_")}
    assert "stall_compute_cycles" in stalls and "stall_load_transfer_cycles" in stalls
    assert sum(stalls.values()) == pytest.approx(row["cores"] * row["total_cycles"])


def test_energy_columns_match_the_run_summary_and_need_prices(tmp_path: Path) -> None:
    """A sweep point's energy is what `npu-des run` reports for the same configuration (the same prices
    over the same counted accesses), its parts sum to it, and hardware without `energy:` prices has none."""
    from npu_des.config import PRESET_DIR

    unpriced = tmp_path / "unpriced.yaml"
    unpriced.write_text((PRESET_DIR / "edge_dual.yaml").read_text().split("\nenergy:")[0] + "\n")
    spec = build_spec(["tiny_cnn"], ["edge_dual", str(unpriced)], ["sequential"],
                      ["dram.bandwidth_gbps=6,12.8"])
    rows = {(row["hw"], row["dram.bandwidth_gbps"]): row
            for row in run_sweep(spec, tmp_path / "s", jobs=1, quiet=True)}
    assert main(["run", "--model", "tiny_cnn", "--hw", "edge_dual", "--pass", "backward",
                 "--order", "sequential", "--set", "dram.bandwidth_gbps=6",
                 "--out", str(tmp_path / "run")]) == 0
    energy = json.loads((tmp_path / "run" / "summary.json").read_text())["energy"]
    priced = rows[("edge_dual", 6)]
    assert priced["energy_pj"] == pytest.approx(energy["total_pj"], rel=1e-12)
    assert priced["pj_per_mac"] == pytest.approx(energy["pj_per_mac"], rel=1e-12)
    parts = [value for key, value in priced.items() if key.startswith("energy_") and key != "energy_pj"]
    assert len(parts) == len(energy["components_pj"]) and sum(parts) == pytest.approx(priced["energy_pj"])
    assert rows[("edge_dual", 12.8)]["energy_pj"] < priced["energy_pj"]  # less leakage over a shorter run
    assert "energy_pj" not in rows[(str(unpriced), 6)] and rows[(str(unpriced), 6)]["error"] == ""
