"""MICRO'23's Fig. 6 ideal (`run.dw_dy: free`, variant dw_dy_free): dW gets dY for free, dX reads it."""

from __future__ import annotations

from pathlib import Path

from npu_des.analysis.checks import check_run
from npu_des.config import load_hardware, run_options
from npu_des.kinds import TensorKind
from npu_des.models import build_model
from npu_des.sim.driver import simulate
from npu_des.sweep.runner import run_sweep
from npu_des.sweep.spec import build_spec


def runs():
    workload = build_model("tiny_cnn")
    hw = load_hardware("ethos_n77", ["spm.capacity_kb=4"])
    base = simulate(workload, hw, run_options(order="sequential"))
    ideal = simulate(workload, hw, run_options(order="sequential", dw_dy="free"))
    return workload, hw, base, ideal


def test_dw_reads_no_dy_from_dram_and_dx_still_reads_all_of_it():
    workload, hw, base, ideal = runs()
    rows = {row.layer: row for row in ideal.layers}
    first = workload.layers[0]  # no dX: only its dW reads dY, so nothing is read
    assert rows[first.name].read_bytes[TensorKind.DY] == 0 < base.layers[0].read_bytes[TensorKind.DY]
    for layer in workload.layers[1:]:  # the dX op still reads every dY tile at least once, from DRAM
        row = rows[layer.name]
        assert row.read_bytes[TensorKind.DY] >= row.groups * row.M * row.N * hw.bytes_per_element
    assert ideal.dram_bytes["read"][TensorKind.DY] < base.dram_bytes["read"][TensorKind.DY]
    assert ideal.total_cycles <= base.total_cycles


def test_oracle_runs_keep_every_invariant():
    workload, hw, _, _ = runs()
    options = run_options(order="sequential", dw_dy="free")
    assert check_run(simulate(workload, hw, options), workload, hw, options) == []


def test_sweep_variant_dw_dy_free(tmp_path: Path) -> None:
    spec = build_spec(("tiny_cnn",), ("ethos_n77",), ("sequential",), ["spm.capacity_kb=4"],
                      variants=("baseline", "dw_dy_free"))
    base, ideal = run_sweep(spec, tmp_path, jobs=1, quiet=True)
    assert (base["variant"], ideal["variant"]) == ("baseline", "dw_dy_free")
    assert not base["error"] and not ideal["error"]
    assert ideal["read_dY"] < base["read_dY"]
