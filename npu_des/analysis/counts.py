"""What a run did, counted per layer: MACs performed, SPM bytes read and written and DRAM bytes by tensor
kind, vector-unit elements. The energy model prices these counts and the bounds read the MACs.

Sources, all from the finished run: DRAM bytes are the DMA records' per-layer totals (`LayerRow`); a DMA
fill writes its bytes into the SPM and a store reads them out; the arrays' operand traffic is SCALE-Sim's
per-operand count (stationary block once, the row-streamed operand once per column fold, the
column-streamed one once per row fold), obtained by replaying each core's tiles in the order the core
ran them (its tasks in schedule order: the engine computes a core's tasks in order, so no timeline is
needed) through the array model (`SystolicArray.charge`, which also decides which tiles continue the fold
the array holds and which reuse a stationary tile); a vector task reads its inputs (saved Y, dY) and
writes its output (dY) once per element.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from math import ceil

from npu_des.config import HardwareConfig
from npu_des.kinds import Op
from npu_des.metrics import RunResult
from npu_des.schedule.tasks import Schedule, TileTask
from npu_des.sim.components.systolic_array import SystolicArray
from npu_des.tiling.compute_model import gemm_mapping, op_dataflow
from npu_des.tiling.sparsity import streamed_length


@dataclass
class LayerCounts:
    """One layer's counted work and traffic (bytes by tensor kind)."""

    macs: int = 0  # dense MACs: the layer's arithmetic
    executed_macs: int = 0  # MACs the arrays performed (zero-skipped operand pairs excluded)
    vector_elements: int = 0
    output_tiles: int = 0  # distinct output tiles: how many cores the layer's work can occupy at once
    spm_read_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    spm_write_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dram_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # read + write

    @property
    def spm_bytes(self) -> int:
        return sum(self.spm_read_bytes.values()) + sum(self.spm_write_bytes.values())


@dataclass(frozen=True)
class OperandAccesses:
    """SPM element accesses of one array tile, split by operand: left, right and output."""

    left: int
    right: int
    output: int

    @property
    def total(self) -> int:
        return self.left + self.right + self.output


def operand_accesses(task: TileTask, dataflow: str, density: float, rows: int, cols: int,
                     reused: bool) -> OperandAccesses:
    """SCALE-Sim's operand counts of `task` on a rows x cols array, by operand.

    The stationary operand (OS: output, WS: right, IS: left) is read or written once per element
    (less the fold still held when `reused`: a tile continuing that fold, or reusing a stationary tile);
    the operand streamed along the rows once per column fold, the one streamed along the columns once
    per row fold, each for T (zero skipping: ceil(T * density)) steps. The three sum to what
    `SystolicArray` counts as `spm_element_accesses`.
    """
    groups, m, k, n = task.extents
    spatial_rows, spatial_cols, temporal = gemm_mapping(m, k, n, dataflow)
    streamed = streamed_length(temporal, density)
    row_folds, col_folds = ceil(spatial_rows / rows), ceil(spatial_cols / cols)
    stationary = spatial_rows * spatial_cols
    if reused:
        stationary -= (spatial_rows - (row_folds - 1) * rows) * (spatial_cols - (col_folds - 1) * cols)
    along_rows = col_folds * streamed * spatial_rows
    along_cols = row_folds * streamed * spatial_cols
    if dataflow == "os":
        left, right, output = along_rows, along_cols, stationary
    elif dataflow == "ws":
        left, right, output = along_rows, stationary, along_cols
    else:
        left, right, output = stationary, along_rows, along_cols
    return OperandAccesses(groups * left, groups * right, groups * output)


def count_accesses(result: RunResult, schedule: Schedule, hw: HardwareConfig) -> dict[str, LayerCounts]:
    """Per layer (model order): MACs, vector elements, SPM and DRAM bytes by kind, output tiles.

    Raises ValueError when the replayed arrays disagree with the run's own counters: the schedule
    was not the one the run executed, and every count derived from it would be wrong.
    """
    counts = {row.layer: LayerCounts() for row in result.layers}
    for row in result.layers:
        layer = counts[row.layer]
        for kind, nbytes in row.read_bytes.items():  # DRAM -> SPM: the fill writes the SPM
            layer.dram_bytes[kind] += nbytes
            layer.spm_write_bytes[kind] += nbytes
        for kind, nbytes in row.write_bytes.items():  # SPM -> DRAM: the store reads the SPM
            layer.dram_bytes[kind] += nbytes
            layer.spm_read_bytes[kind] += nbytes
    element = hw.bytes_per_element
    array = hw.cores.array
    arrays = [SystolicArray.from_config(None, array) for _ in range(hw.cores.count)]
    outputs: dict[str, set] = defaultdict(set)
    for task in schedule.tasks:  # per core, the order it computed them
        layer = counts[task.layer]
        outputs[task.layer].add(task.output.key)
        left, right = task.inputs[0], task.inputs[-1]
        if task.op == Op.VECTOR:
            elements = task.macs
            layer.vector_elements += elements
            for ref in task.inputs:
                layer.spm_read_bytes[ref.kind] += elements * element
            layer.spm_write_bytes[task.output.kind] += elements * element
            continue
        core = arrays[task.core]
        held, accesses = core.stationary_reuses + core.continuations, core.spm_element_accesses
        core.charge(task)
        dataflow = op_dataflow(array.dataflow, task.op)
        density = task.density if array.zero_skipping and task.op == Op.DW else 1.0
        split = operand_accesses(task, dataflow, density, array.rows, array.cols,
                                 core.stationary_reuses + core.continuations > held)
        if split.total != core.spm_element_accesses - accesses:
            raise ValueError(f"operand split of {task.op} tile {task.tile} of layer '{task.layer}' "
                             "disagrees with the array model")
        layer.spm_read_bytes[left.kind] += split.left * element
        layer.spm_read_bytes[right.kind] += split.right * element
        layer.spm_write_bytes[task.output.kind] += split.output * element
        layer.macs += task.macs
        groups, m, k, n = task.extents
        spatial_rows, spatial_cols, temporal = gemm_mapping(m, k, n, dataflow)
        layer.executed_macs += groups * spatial_rows * spatial_cols * streamed_length(temporal, density)
    for name, keys in outputs.items():
        counts[name].output_tiles = len(keys)
    replayed = sum(core.spm_element_accesses for core in arrays)
    recorded = sum(stats.get("spm_element_accesses", replayed) for stats in result.arrays) if result.arrays \
        else replayed
    if replayed != recorded or sum(core.busy_cycles for core in arrays) != result.compute_cycles:
        raise ValueError(
            f"the re-planned schedule replays to {replayed:,} SPM element accesses and "
            f"{sum(core.busy_cycles for core in arrays):,} busy cycles; the run counted {recorded:,} and "
            f"{result.compute_cycles:,}: it is not the schedule the run executed"
        )
    return counts
