"""Old import path of npu_des.sim.components.dram."""

from npu_des.sim.components.dram import DramChannel

__all__ = ["DramChannel"]
