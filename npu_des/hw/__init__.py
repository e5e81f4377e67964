"""Old import path of npu_des.sim.components (the SimPy components), kept for existing imports."""

from npu_des.sim.components import DmaEngine, DramChannel, Scratchpad, SystolicArray, VectorUnit, gemm_cycles

__all__ = ["DmaEngine", "DramChannel", "Scratchpad", "SystolicArray", "VectorUnit", "gemm_cycles"]
