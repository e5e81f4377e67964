"""SimPy components: systolic array, vector unit, DMA engine, shared SPM, DRAM channel. None imports the
scheduler."""

from npu_des.sim.components.dma import DmaEngine, DmaRecord
from npu_des.sim.components.dram import BusyInterval, DramChannel
from npu_des.sim.components.spm import Occupancy, Scratchpad
from npu_des.sim.components.systolic_array import SystolicArray, gemm_cycles
from npu_des.sim.components.vector_unit import VectorUnit

__all__ = [
    "BusyInterval",
    "DmaEngine",
    "DmaRecord",
    "DramChannel",
    "Occupancy",
    "Scratchpad",
    "SystolicArray",
    "VectorUnit",
    "gemm_cycles",
]
