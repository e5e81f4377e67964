"""The energy model: energy = counts x per-access energies, recomputed here from the timeline alone; a run
that moves no DRAM bytes spends no DRAM energy; each price scales exactly its own component."""

from __future__ import annotations

from collections.abc import Callable
from math import ceil
from typing import Any

import pytest

from npu_des.analysis.counts import LayerCounts, OperandAccesses, operand_accesses
from npu_des.analysis.energy import EnergyComponent, Prices, price_run
from npu_des.analysis.explain import explain
from npu_des.config import HardwareConfig, load_hardware, run_options
from npu_des.errors import ConfigError
from npu_des.kinds import Direction, GemmExtents, Op, TensorKind, TileKey
from npu_des.metrics import RunResult
from npu_des.models import build_model
from npu_des.models.tiny import single_linear
from npu_des.schedule.plan import plan
from npu_des.schedule.tasks import TileRef, TileTask
from npu_des.sim.components.dma import DmaEngine
from npu_des.sim.driver import simulate
from npu_des.workload import Workload


def run(workload: Workload, hw: HardwareConfig, **options: Any) -> RunResult:
    option = run_options(**options)
    return explain(simulate(workload, hw, option), workload, hw, option)


def timeline_energy(result: RunResult, workload: Workload, hw: HardwareConfig, order: str) -> float:
    """Energy recomputed from the timeline: DMA events for DRAM bytes and SPM fills/stores, array events
    (tile index -> extents from the plan) for MACs and SCALE-Sim operand counts of a plain OS array, less
    the held fold's outputs of a tile that accumulates into the output tile just before it on its array."""
    assert hw.energy is not None and hw.cores.array.dataflow == "os"
    grids = plan(workload, hw, run_options(order=order))[0].grids
    rows, cols, element = hw.cores.array.rows, hw.cores.array.cols, hw.bytes_per_element
    macs = spm_read = spm_write = dram = 0
    held: dict[str, tuple[str, str, tuple[int, ...]]] = {}  # array -> the output tile its accumulators hold
    for event in result.timeline:
        if event.resource.endswith(".dma"):
            dram += event.bytes
            if event.direction == Direction.READ:
                spm_write += event.bytes  # a fill writes the SPM
            else:
                spm_read += event.bytes  # a store reads it
        elif event.resource.endswith(".array"):
            g, m, n, k = map(int, event.tile.split("."))
            size = grids[event.layer].gemm_extents(g, m, n, k)
            # dX[m,k] += dY[m,n] W[n,k]^T: out rows M, reduction N, cols K; dW[k,n] += X^T[k,m] dY[m,n]
            out_rows, reduction, out_cols = (
                (size.m, size.n, size.k) if event.op == Op.DX else (size.k, size.m, size.n)
            )
            macs += size.g * out_rows * reduction * out_cols
            # OS: left streamed once per column fold, right once per row fold, output written once
            streamed = ceil(out_cols / cols) * out_rows + ceil(out_rows / rows) * out_cols
            spm_read += size.g * reduction * streamed * element
            spm_write += size.g * out_rows * out_cols * element
            output = (event.layer, event.op, (g, m, k) if event.op == Op.DX else (g, n, k))
            if held.get(event.resource) == output:  # continues the fold in the array: its last fold stays
                last_rows = out_rows - (ceil(out_rows / rows) - 1) * rows
                spm_write -= last_rows * (out_cols - (ceil(out_cols / cols) - 1) * cols) * element
            held[event.resource] = output
    energy = hw.energy
    return (
        macs * energy.mac_fp16_pj
        + spm_read * energy.spm_read_pj_per_byte
        + spm_write * energy.spm_write_pj_per_byte
        + dram * energy.dram_pj_per_byte
        + energy.leakage_mw / 1e3 * result.total_cycles / (hw.clock_ghz * 1e9) * 1e12
    )


@pytest.mark.parametrize("order", ["sequential", "interleaved"])
def test_energy_equals_counts_times_prices_recomputed_from_the_timeline(order):
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    result = run(workload, hw, order=order)
    energy = result.analyses["energy"]
    assert energy["total_pj"] == pytest.approx(timeline_energy(result, workload, hw, order), rel=1e-12)
    assert sum(energy["components_pj"].values()) == pytest.approx(energy["total_pj"], rel=1e-12)
    assert energy["macs"] == result.macs
    assert energy["pj_per_mac"] == pytest.approx(energy["total_pj"] / result.macs)
    assert energy["tops_per_watt"] == pytest.approx(2 / energy["pj_per_mac"])


def test_layers_kinds_and_leakage_add_up_to_the_totals():
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    result = run(workload, hw, order="interleaved", vector_ops=True)
    energy = result.analyses["energy"]
    parts = energy["components_pj"]
    layers = sum(columns["energy_pj"] for columns in result.layer_analyses.values())
    assert layers + parts["leakage"] == pytest.approx(energy["total_pj"], rel=1e-12)
    assert sum(energy["kinds_pj"].values()) == pytest.approx(parts["spm"] + parts["dram"], rel=1e-12)
    assert parts["vector"] > 0 and set(energy["kinds_pj"]) >= {"X", "W", "dY", "dX", "dW", "Y"}
    assert energy["kinds_pj"]["Y"] > 0  # vector ops read the saved output


class NoTrafficDma(DmaEngine):
    """A DMA engine whose transfers complete at once and move nothing: an all-on-chip machine."""

    def move(self, nbytes: int, kind: TensorKind, direction: Direction, key: TileKey,
             then: Callable[[], None], started: Callable[[float], None] | None = None) -> None:
        then()  # landed at once, nothing on the channel


def test_a_run_that_moves_no_dram_bytes_spends_no_dram_energy():
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    option = run_options(order="sequential")
    result = explain(simulate(workload, hw, option, dma_engine=NoTrafficDma), workload, hw, option)
    assert result.total_dram_bytes == 0
    parts = result.analyses["energy"]["components_pj"]
    assert parts["dram"] == 0.0
    assert parts["mac"] > 0 and parts["spm"] > 0  # the arrays still read their operands from the SPM
    assert result.analyses["bounds"]["dram_bandwidth_utilisation"] == 0.0


@pytest.mark.parametrize(
    ("fields", "component"),
    [
        (("mac_fp16_pj",), EnergyComponent.MAC),
        (("spm_read_pj_per_byte", "spm_write_pj_per_byte"), EnergyComponent.SPM),
        (("dram_pj_per_byte",), EnergyComponent.DRAM),
        (("vector_pj_per_element",), EnergyComponent.VECTOR),
        (("leakage_mw",), EnergyComponent.LEAKAGE),
    ],
)
def test_doubling_an_energy_value_doubles_exactly_its_component(fields, component):
    workload, hw = build_model("tiny_cnn"), load_hardware("edge_dual")
    option = run_options(order="interleaved", vector_ops=True)
    result = simulate(workload, hw, option)
    assert hw.energy is not None
    doubled = load_hardware("edge_dual", [f"energy.{f}={2 * getattr(hw.energy, f)}" for f in fields])
    base = dict(explain(result, workload, hw, option).analyses["energy"]["components_pj"])
    twice = explain(result, workload, doubled, option).analyses["energy"]["components_pj"]
    for part, value in base.items():
        assert twice[part] == pytest.approx(2 * value if part == component else value, rel=1e-12), part
    assert base[component] > 0


def test_operand_split_on_a_hand_worked_tile():
    # One OS tile on a 2x2 array: out rows 3, reduction 5, cols 4 -> Sr=3, Sc=4, T=5, 2x2 folds.
    # left (3x5) streamed once per column fold: 2*5*3 = 30; right (5x4) once per row fold: 2*5*4 = 40;
    # output written once: 12. Total 82 = Sr*Sc + T*(col_folds*Sr + row_folds*Sc), the array's count.
    ref = TileRef(TileKey(0, 0, 0, 0, 0), TensorKind.X, "l", 0)
    task = TileTask(0, 0, "l", Op.DW, (0, 0, 0, 0), (ref, ref), ref, True, True, -1, GemmExtents(1, 3, 5, 4))
    assert operand_accesses(task, "os", 1.0, 2, 2, reused=False) == OperandAccesses(30, 40, 12)
    # WS: Sr=K=5, Sc=N=4, T=M=3, 3x2 folds: right stationary 20, left 2*3*5 = 30, output 3*3*4 = 36.
    assert operand_accesses(task, "ws", 1.0, 2, 2, reused=False) == OperandAccesses(30, 20, 36)
    # Zero skipping at density 0.4 streams ceil(5 * 0.4) = 2 of the 5 steps (OS).
    assert operand_accesses(task, "os", 0.4, 2, 2, reused=False) == OperandAccesses(12, 16, 12)


def test_zero_skipping_saves_mac_energy_but_keeps_dense_macs_for_tops_per_watt():
    workload = single_linear(64, 64, 64)
    dense = run(workload, load_hardware("ethos_n77"), order="sequential")
    sparse = run(
        workload,
        load_hardware("ethos_n77", ["cores.array.zero_skipping=true"]),
        order="sequential",
        density=0.5,
    )
    d, s = dense.analyses["energy"], sparse.analyses["energy"]
    assert s["macs"] == d["macs"] and s["executed_macs"] < d["executed_macs"]
    assert s["components_pj"]["mac"] < d["components_pj"]["mac"]
    assert s["tops_per_watt"] > d["tops_per_watt"]


def test_pricing_needs_an_energy_section():
    hw = load_hardware("edge_dual").model_copy(update={"energy": None})
    with pytest.raises(ConfigError, match="field 'energy'"):
        Prices.of(hw)
    counts = {"l": LayerCounts(macs=10, executed_macs=10)}
    report = price_run(counts, Prices.of(load_hardware("ethos_n77")), 0.0)
    assert report.components_pj[EnergyComponent.MAC] == pytest.approx(10 * 0.3)
    assert report.components_pj[EnergyComponent.LEAKAGE] == 0.0
