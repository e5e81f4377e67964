"""`run.memory_model: scalesim`: a whole run with SCALE-Sim 3.0.0's memory accounting (docs/scalesim.md).

Every GEMM op runs alone, one after another, as SCALE-Sim runs one layer after another: its time is
SCALE-Sim's Total Cycles (folds * per-fold rows - 1, plus the stalls of its three SRAM ports) and its
DRAM bytes are SCALE-Sim's per-operand counts (npu_des/sim/scalesim_memory.py). The ops:
- forward: Y = X . W per layer (ifmap X im2col-expanded, filter W, ofmap Y), SCALE-Sim's own layer;
- backward, sequential order: per layer in backward order dX then dW (or `sequential_first`), each a
  GEMM with its own operands, as SCALE-Sim-based training simulators feed them:
  dX = dY . W^T (ifmap dY M x N, filter W^T N x K, ofmap dX M x K, im2col-sized: no col2im),
  dW = X^T . dY (ifmap X^T K x M, the im2col matrix transposed, filter dY M x N, ofmap dW K x N).
Sequential with either baseline runs; the tuned baseline only changes tiles and loop orders, which
whole-layer GEMMs do not have (a note says so), and tile-level dependencies change nothing when the
ops run one after another. Refused with one line naming `run.memory_model`: the orders that interleave
dX and dW tiles through one SPM (interleaved, rearranged, rearranged-best, fused / interleaved-auto),
data partitioning (partitions share and accumulate tiles through the SPM), and the `run.dw_dy: free`
oracle (a DMA engine of npu-des's memory model): SCALE-Sim's per-layer SRAMs cannot express them, so
any number would be an invention rather than SCALE-Sim's. Grouped convs run each group as a GEMM (one
group simulated, counts times the groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np

from npu_des.config import HardwareConfig, RunOptions, ScaleSimMemoryConfig
from npu_des.errors import ConfigError
from npu_des.kinds import ALL_KINDS, DIRECTIONS, KINDS, Direction, Op, Order, Scheme, TensorKind
from npu_des.metrics import LayerRow, RunResult, TimelineEvent
from npu_des.sim.scalesim_memory import (
    OperandMatrices,
    OpTraffic,
    Ports,
    conv_ifmap,
    gemm_operands,
    simulate_op,
)
from npu_des.tiling.compute_model import op_dataflow
from npu_des.workload import Workload, backward_layer_order, forward_graph
from npu_des.workload.layers import Layer

MAX_OPERAND_ELEMENTS = 200_000_000  # an im2col matrix above this (1.6 GB of addresses) is refused


def memory_of(hw: HardwareConfig) -> ScaleSimMemoryConfig:
    """The .cfg's SRAMs and ports, or (a preset) the SPM split in three and every port at the DRAM
    channel's bandwidth, as the replication study configured SCALE-Sim ("Bandwidth 22" for 22 GB/s)."""
    if hw.scalesim is not None:
        return hw.scalesim
    words = max(1, round(hw.dram_bytes_per_cycle / hw.bytes_per_element))
    third = hw.spm.capacity_kb / 3
    return ScaleSimMemoryConfig(ifmap_sram_kb=third, filter_sram_kb=third, ofmap_sram_kb=third,
                                ifmap_words_per_cycle=words, filter_words_per_cycle=words,
                                ofmap_words_per_cycle=words)


def ports_of(memory: ScaleSimMemoryConfig, bytes_per_element: int) -> Ports:
    """SRAM sizes in KB of words and port widths in words/cycle (unused under CALC)."""
    scale = 1 / bytes_per_element
    return Ports(memory.ifmap_sram_kb * scale, memory.filter_sram_kb * scale, memory.ofmap_sram_kb * scale,
                 memory.ifmap_words_per_cycle, memory.filter_words_per_cycle, memory.ofmap_words_per_cycle)


def _x_matrix(layer: Layer) -> tuple[np.ndarray, int, bool]:
    """X of one group as SCALE-Sim's ifmap (im2col addresses for a conv), its address count, and whether
    addresses are unique. A conv whose output is SCALE-Sim's unpadded ceil((H - R + s) / s) is read as
    given (imported topologies); otherwise as the padded input its windows cover."""
    gemm = layer.gemm
    if gemm.M * gemm.K > MAX_OPERAND_ELEMENTS:
        raise ConfigError(f"layer '{layer.name}': its {gemm.M:,} x {gemm.K:,} operand matrix is too large "
                          "for SCALE-Sim's model", field="run.memory_model",
                          allowed="up to 2e8 elements per operand matrix, or run.memory_model=npu-des")
    geometry = gemm.conv
    if geometry is None:
        return np.arange(gemm.M * gemm.K, dtype=np.int64).reshape(gemm.M, gemm.K), gemm.M * gemm.K, True
    channels = gemm.K // gemm.k_unit
    height, width = geometry.in_h, geometry.in_w
    if geometry.out_h != ceil((height - geometry.kernel_h) / geometry.stride) + 1:
        height = (geometry.out_h - 1) * geometry.stride + geometry.kernel_h
    if geometry.out_w != ceil((width - geometry.kernel_w) / geometry.stride) + 1:
        width = (geometry.out_w - 1) * geometry.stride + geometry.kernel_w
    ifmap = conv_ifmap(height, width, geometry.kernel_h, geometry.kernel_w, channels, geometry.stride,
                       geometry.out_h, geometry.out_w, geometry.batch)
    return ifmap, geometry.batch * height * width * channels, gemm.k_unit == 1


def op_operands(layer: Layer, op: Op) -> OperandMatrices:
    """The ifmap, filter and ofmap of one group of a layer's op, as a SCALE-Sim layer."""
    gemm = layer.gemm
    if op == Op.DX:  # dY[M x N] . W^T[N x K]
        return gemm_operands(gemm.M, gemm.K, gemm.N)
    x, addresses, unique = _x_matrix(layer)
    if op == Op.Y:
        filt = np.arange(gemm.K * gemm.N, dtype=np.int64).reshape(gemm.N, gemm.K).T
        ofmap = np.arange(gemm.M * gemm.N, dtype=np.int64).reshape(gemm.M, gemm.N)
        return OperandMatrices(x, filt, ofmap, addresses, unique)
    dy = np.arange(gemm.M * gemm.N, dtype=np.int64).reshape(gemm.M, gemm.N)  # dW = X^T[K x M] . dY[M x N]
    dw = np.arange(gemm.K * gemm.N, dtype=np.int64).reshape(gemm.K, gemm.N)
    return OperandMatrices(x.T, dy, dw, addresses, unique)


# tensor kinds of (ifmap read, filter read, ofmap write) per op
OPERAND_KINDS = {
    Op.Y: (TensorKind.X, TensorKind.W, TensorKind.Y),
    Op.DX: (TensorKind.DY, TensorKind.W, TensorKind.DX),
    Op.DW: (TensorKind.X, TensorKind.DY, TensorKind.DW),
}


@dataclass(frozen=True)
class OpRun:
    layer: Layer
    op: Op
    traffic: OpTraffic  # all groups
    start: int


def ops_in_order(workload: Workload, options: RunOptions) -> list[tuple[Layer, Op]]:
    """The GEMM ops in the order SCALE-Sim would run them, one at a time."""
    forward = forward_graph(workload)
    if options.pass_ == "forward":
        return [(layer, Op.Y) for layer in workload.layers]
    if options.order != Order.SEQUENTIAL:
        raise ConfigError(f"order '{options.order}' interleaves dX and dW tiles through one SPM, which "
                          "SCALE-Sim's per-layer SRAMs cannot model", field="run.memory_model",
                          allowed="run.order=sequential with run.memory_model=scalesim, or "
                          "run.memory_model=npu-des")
    first, second = (Op.DX, Op.DW) if options.sequential_first == "dX" else (Op.DW, Op.DX)
    ops: list[tuple[Layer, Op]] = []
    for layer in backward_layer_order(forward):
        ops += [(layer, op) for op in (first, second) if op != Op.DX or layer.has_input_gradient]
    return ops


def check_supported(hw: HardwareConfig, options: RunOptions) -> None:
    """What the scalesim memory model cannot run, as one line each (the orders: `ops_in_order`)."""
    partitioned = [name for name, choice in options.layer_choices.items()
                   if choice.partition not in (None, Scheme.NONE)]
    if options.pass_ == "backward" and (options.partition != "none" or partitioned):
        what = f"'{options.partition}'" if options.partition != "none" else f"of layer '{partitioned[0]}'"
        raise ConfigError(f"data partitioning {what} shares and accumulates tiles across partitions through "
                          "one SPM, which SCALE-Sim's per-layer SRAMs cannot model", field="run.memory_model",
                          allowed="run.partition=none with run.memory_model=scalesim, or "
                          "run.memory_model=npu-des")
    if options.pass_ == "backward" and options.dw_dy == "free":
        raise ConfigError("the dW-gets-dY-free oracle (run.dw_dy=free) is a DMA engine of npu-des's memory "
                          "model", field="run.memory_model", allowed="run.dw_dy=dram with "
                          "run.memory_model=scalesim, or run.memory_model=npu-des")
    if hw.cores.count != 1:
        raise ConfigError(f"SCALE-Sim models one array; the hardware has {hw.cores.count} cores",
                          field="run.memory_model", allowed="cores.count=1 with run.memory_model=scalesim")
    if not isinstance(hw.cores.array.dataflow, str):
        raise ConfigError("SCALE-Sim runs one dataflow; the hardware sets one per op",
                          field="run.memory_model",
                          allowed="one cores.array.dataflow with run.memory_model=scalesim")


def simulate_scalesim(workload: Workload, hw: HardwareConfig, options: RunOptions) -> RunResult:
    """Run every GEMM op of the pass back to back under SCALE-Sim's memory model."""
    check_supported(hw, options)
    array = hw.cores.array
    memory = memory_of(hw)
    ports = ports_of(memory, hw.bytes_per_element)
    calc = memory.interface_bandwidth == "CALC"
    bpe = hw.bytes_per_element
    kinds = ALL_KINDS if options.pass_ == "forward" else KINDS
    runs: list[OpRun] = []
    now = 0
    cache: dict[tuple[object, ...], OpTraffic] = {}
    for layer, op in ops_in_order(workload, options):
        dataflow = op_dataflow(array.dataflow, op)
        key = (layer.gemm, op, dataflow)
        if key not in cache:  # networks repeat layer shapes
            one = simulate_op(op_operands(layer, op), dataflow, array.rows, array.cols, ports, calc)
            groups = layer.gemm.groups
            cache[key] = OpTraffic(one.ifmap_reads * groups, one.filter_reads * groups,
                                   one.ofmap_writes * groups, groups * (one.compute_cycles + 1) - 1,
                                   one.stall_cycles * groups)
        runs.append(OpRun(layer, op, cache[key], now))
        now += cache[key].total_cycles
    dram_bytes: dict[str, dict[str, int]] = {direction: dict.fromkeys(kinds, 0) for direction in DIRECTIONS}
    per_layer: dict[str, list[OpRun]] = {}
    for run in runs:
        ifmap, filt, ofmap = OPERAND_KINDS[run.op]
        traffic = run.traffic
        dram_bytes[Direction.READ][ifmap] += traffic.ifmap_reads * bpe
        dram_bytes[Direction.READ][filt] += traffic.filter_reads * bpe
        dram_bytes[Direction.WRITE][ofmap] += traffic.ofmap_writes * bpe
        per_layer.setdefault(run.layer.name, []).append(run)
    compute = sum(run.traffic.compute_cycles for run in runs)
    macs = sum(run.layer.gemm.macs for run in runs)
    timeline = [TimelineEvent("core0.array", run.start, run.start + run.traffic.total_cycles, run.op,
                              run.layer.name, run.op, "whole", 0, "") for run in runs]
    memory_note = (f"memory model scalesim: SRAMs ifmap {memory.ifmap_sram_kb:g} KB, filter "
                   f"{memory.filter_sram_kb:g} KB, ofmap {memory.ofmap_sram_kb:g} KB, each with its own DRAM "
                   + ("port sized so it never stalls (CALC)" if memory.interface_bandwidth == "CALC" else
                      f"port ({memory.ifmap_words_per_cycle}/{memory.filter_words_per_cycle}/"
                      f"{memory.ofmap_words_per_cycle} words/cycle)")
                   + "; ops run one after another; first fills come before each op's cycle 0")
    backward = options.pass_ == "backward"
    settings = (("run.pins", options.pins), ("run.pin_plan", options.pin_plan != "none"),
                ("run.fuse", options.fuse), ("run.tile", options.tile),
                ("run.vector_ops", options.vector_ops),
                ("run.density", options.density < 1 or options.density_file),
                ("run.baseline=tuned", backward and options.baseline == "tuned"),
                ("run.dependencies=tile", backward and options.dependencies == "tile"))
    ignored = [name for name, value in settings if value]
    notes = [memory_note]
    if ignored:
        notes.append("without effect under memory model scalesim (whole layers, no SPM tiles): "
                     + ", ".join(ignored))
    return RunResult(
        model=workload.name,
        hardware=hw.name,
        order="forward" if options.pass_ == "forward" else options.order,
        cores=1,
        clock_ghz=hw.clock_ghz,
        total_cycles=float(now),
        compute_cycles=compute,
        macs=macs,
        core_busy_cycles=[compute],
        pe_count_per_core=array.rows * array.cols,
        dram_bytes=dram_bytes,
        compulsory_bytes=dict.fromkeys(kinds, 0),
        dram_bytes_per_cycle=hw.dram_bytes_per_cycle,
        spm_capacity_bytes=hw.spm.capacity_bytes,
        spm_peak_bytes=0,
        spm_hits=0,
        spm_misses=0,
        spm_evictions=0,
        dram_transfers=0,
        tasks=len(runs),
        layers=[_layer_row(per_layer[layer.name], kinds, bpe) for layer in workload.layers
                if layer.name in per_layer],
        timeline=timeline,
        spm_occupancy=[],
        options=options.model_dump(mode="json", by_alias=True),
        notes=notes,
    )


def _layer_row(runs: list[OpRun], kinds: tuple[TensorKind, ...], bpe: int) -> LayerRow:
    layer = runs[0].layer
    gemm = layer.gemm
    read: dict[str, int] = dict.fromkeys(kinds, 0)
    write: dict[str, int] = dict.fromkeys(kinds, 0)
    for run in runs:
        ifmap, filt, ofmap = OPERAND_KINDS[run.op]
        read[ifmap] += run.traffic.ifmap_reads * bpe
        read[filt] += run.traffic.filter_reads * bpe
        write[ofmap] += run.traffic.ofmap_writes * bpe
    end = {run.op: run.start + run.traffic.total_cycles for run in runs}
    return LayerRow(layer=layer.name, kind=layer.kind, M=gemm.M, N=gemm.N, K=gemm.K, groups=gemm.groups,
                    tile="whole", tasks=len(runs), start=min(run.start for run in runs),
                    end=max(end.values()),
                    dX_end=end.get(Op.DX, 0), dW_end=end.get(Op.DW, 0),
                    compute_cycles=sum(run.traffic.compute_cycles for run in runs),
                    macs=gemm.macs * len(runs), read_bytes=read, write_bytes=write, spm_hits=0, spm_misses=0)
