"""Old import path of npu_des.sim.components.systolic_array (the cycle formulas live in
npu_des.tiling.compute_model)."""

from npu_des.sim.components.systolic_array import ArrayStatistics, SystolicArray, replay
from npu_des.tiling.compute_model import gemm_cycles, gemm_mapping, op_dataflow

__all__ = ["ArrayStatistics", "SystolicArray", "gemm_cycles", "gemm_mapping", "op_dataflow", "replay"]
