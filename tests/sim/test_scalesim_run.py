"""Runs under `run.memory_model: scalesim`: every GEMM op once, SCALE-Sim's numbers, the checks hold."""

from __future__ import annotations

import pytest
from conftest import make_hw

from npu_des.analysis.checks import check_run
from npu_des.config import run_options
from npu_des.errors import ConfigError
from npu_des.kinds import Direction, TensorKind
from npu_des.models.tiny import single_linear
from npu_des.sim.driver import simulate
from npu_des.sim.scalesim_memory import Ports, gemm_operands, simulate_op
from npu_des.tiling.compute_model import scalesim_cycles
from npu_des.workload import Workload, conv

SCALESIM = ("scalesim.ifmap_sram_kb=2", "scalesim.filter_sram_kb=2", "scalesim.ofmap_sram_kb=2",
            "scalesim.ifmap_words_per_cycle=2", "scalesim.filter_words_per_cycle=1",
            "scalesim.ofmap_words_per_cycle=1")


def test_forward_gemm_has_scalesims_bytes_per_operand_and_cycles():
    hw = make_hw(*SCALESIM, "bytes_per_element=1")
    workload = single_linear(m=40, k=56, n=24)
    result = simulate(workload, hw, run_options(pass_="forward", memory_model="scalesim"))
    ports = Ports(2, 2, 2, 2, 1, 1)
    ops = [simulate_op(gemm_operands(40, 24, 56), "os", 4, 4, ports)]
    producer = workload.layers[0].gemm
    ops.insert(0, simulate_op(gemm_operands(producer.M, producer.N, producer.K), "os", 4, 4, ports))
    assert result.dram_bytes[Direction.READ][TensorKind.X] == sum(op.ifmap_reads for op in ops)
    assert result.dram_bytes[Direction.READ][TensorKind.W] == sum(op.filter_reads for op in ops)
    assert result.dram_bytes[Direction.WRITE][TensorKind.Y] == sum(op.ofmap_writes for op in ops)
    assert result.total_cycles == sum(op.total_cycles for op in ops)
    assert result.compute_cycles == scalesim_cycles(40, 56, 24, 4, 4, "os") + scalesim_cycles(
        producer.M, producer.K, producer.N, 4, 4, "os")
    assert sum(op.stall_cycles for op in ops) > 0  # 2 KB SRAMs at a few words/cycle: memory-bound
    assert check_run(result, workload, hw, run_options(pass_="forward", memory_model="scalesim")) == []


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_sequential_backward_runs_dx_and_dw_as_their_own_gemms(dataflow):
    # dX = dY[M x N] . W^T (ifmap dY, filter W, ofmap dX); dW = X^T . dY (ifmap X, filter dY, ofmap dW)
    hw = make_hw(*SCALESIM, f"cores.array.dataflow={dataflow}")
    workload = Workload("c", (conv("c1", (), (3, 12, 12), 8, 3, padding=0),
                              conv("c2", ("c1",), (8, 10, 10), 6, 3, padding=0)))
    options = run_options(order="sequential", memory_model="scalesim")
    result = simulate(workload, hw, options)
    reads, writes = result.dram_bytes[Direction.READ], result.dram_bytes[Direction.WRITE]
    assert reads[TensorKind.DY] > 0 and reads[TensorKind.X] > 0 and reads[TensorKind.W] > 0
    assert writes[TensorKind.DX] > 0 and writes[TensorKind.DW] > 0
    ops = [(event.layer, event.op) for event in result.timeline]
    assert ops == [("c2", "dX"), ("c2", "dW"), ("c1", "dW")]
    assert check_run(result, workload, hw, options) == []


def test_interleaved_order_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match=r"run\.memory_model.*interleaves dX and dW"):
        simulate(single_linear(), make_hw(), run_options(order="interleaved", memory_model="scalesim"))


@pytest.mark.parametrize(("option", "message"), [
    ({"order": "rearranged"}, r"run\.memory_model.*order 'rearranged' interleaves"),
    ({"order": "rearranged-best"}, r"run\.memory_model.*order 'rearranged-best' interleaves"),
    ({"order": "fused", "loop_order": "auto"}, r"run\.memory_model.*order 'fused' interleaves"),
    ({"order": "sequential", "partition": "weight-sharing"}, r"run\.memory_model.*partitioning 'weight-"),
    ({"order": "sequential", "partition": "auto"}, r"run\.memory_model.*partitioning 'auto'"),
    ({"order": "sequential", "layer_choices": {"fc": {"partition": "dY-sharing", "partitions": 2}}},
     r"run\.memory_model.*partitioning of layer 'fc'"),
    ({"order": "sequential", "dw_dy": "free"}, r"run\.memory_model.*run\.dw_dy=free"),
])
def test_orders_and_techniques_that_share_tiles_through_the_spm_are_refused(option, message):
    with pytest.raises(ConfigError, match=message):
        simulate(single_linear(), make_hw(), run_options(memory_model="scalesim", **option))


def test_both_sequential_baselines_run_and_tuned_is_named_as_without_effect():
    hw, workload = make_hw(*SCALESIM), single_linear(m=40, k=56, n=24)
    fixed = simulate(workload, hw, run_options(order="sequential", memory_model="scalesim"))
    options = run_options(order="sequential", baseline="tuned", dependencies="tile", memory_model="scalesim")
    tuned = simulate(workload, hw, options)
    assert (tuned.total_cycles, tuned.dram_bytes) == (fixed.total_cycles, fixed.dram_bytes)
    assert any("run.baseline=tuned, run.dependencies=tile" in note for note in tuned.notes)
    assert check_run(tuned, workload, hw, options) == []


def test_more_than_one_core_is_refused():
    with pytest.raises(ConfigError, match="SCALE-Sim models one array"):
        simulate(single_linear(), make_hw("cores.count=2"),
                 run_options(pass_="forward", memory_model="scalesim"))


def test_calc_interface_never_stalls():
    hw = make_hw(*SCALESIM, "scalesim.interface_bandwidth=CALC")
    options = run_options(pass_="forward", memory_model="scalesim")
    result = simulate(single_linear(m=40, k=56, n=24), hw, options)
    assert result.total_cycles == result.compute_cycles


def test_tiling_options_are_named_as_without_effect():
    options = run_options(pass_="forward", memory_model="scalesim", tile={"m": 8, "n": 8, "k": 8})
    result = simulate(single_linear(), make_hw(), options)
    assert any("run.tile" in note for note in result.notes)
