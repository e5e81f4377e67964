"""SimPy components: systolic array, DMA engine, shared SPM, DRAM channel. None imports the scheduler."""

from npu_des.hw.dma import DmaEngine
from npu_des.hw.dram import DramChannel
from npu_des.hw.spm import Scratchpad
from npu_des.hw.systolic_array import SystolicArray, gemm_cycles

__all__ = ["DmaEngine", "DramChannel", "Scratchpad", "SystolicArray", "gemm_cycles"]
